"""The epoch loop: mini-batches, early stopping, progress. Knows torch, not
scikit-learn.

The loop is objective-agnostic: it asks a batch objective (see
:mod:`skdeepcluster.objectives`) for the loss of each mini-batch, steps the
optimizer, and lets the objective summarise each epoch.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np
import torch

from ._data import batches
from ._warn import warn_user


@dataclass(frozen=True)
class LoopConfig:
    """How long and in what steps one run trains."""

    max_iter: int
    batch_size: int
    tol: float
    n_iter_no_change: int


@dataclass
class LoopState:
    """Where one run's epoch loop stands; handed back to :func:`train` to
    resume it.

    ``epoch`` counts the epochs completed, ``calm`` the consecutive epochs
    whose change stayed below ``tol`` and ``best`` the lowest epoch loss so
    far. ``done`` is set once the loop has ended (early stop, ``max_iter`` or
    Ctrl-C); ``interrupted`` when Ctrl-C ended it.
    """

    epoch: int = 0
    calm: int = 0
    best: float = np.inf
    done: bool = False
    interrupted: bool = False


def train(module, optimizer, objective, config: LoopConfig, generator, history,
          state: LoopState, progress: Progress, *, pause_after=None) -> LoopState:
    """Advance ``state`` by up to ``config.max_iter`` epochs in all; return it.

    Stops early when the objective's per-epoch ``change`` (or the relative
    loss improvement) stays below ``tol`` for ``n_iter_no_change`` epochs.
    Ctrl-C ends training after a warning; the module keeps its current weights.
    A non-finite loss raises ``FloatingPointError`` naming the epoch.

    With ``pause_after`` the loop returns after that epoch, ``state.done``
    unset; calling it again with the same state resumes where it paused (its
    epoch count and early-stopping counters), so a paused and resumed run
    trains exactly as one that never paused.

    In a data-parallel fit (the objective's ``shard`` set) every process
    runs this loop in step: the batches are the global ones cut to the
    process's rows, the gradients are summed over the processes before each
    step, and the epoch's loss and early stopping are those of all rows.
    """
    shard = getattr(objective, "shard", None)
    n_samples = objective.X.shape[0] if shard is None else shard.n_total
    first = state.epoch
    last = config.max_iter if pause_after is None else min(pause_after, config.max_iter)
    stopped = False  # by the early-stopping rule
    module.train()
    try:
        if first == 0 and hasattr(objective, "start"):
            objective.start(optimizer, generator, config.max_iter)
        for epoch in range(first + 1, last + 1):
            start = time.perf_counter()
            total = torch.zeros((), device=next(module.parameters()).device)
            if shard is not None:
                epoch_batches = shard.batches(config.batch_size, generator)
            elif hasattr(objective, "batches"):
                epoch_batches = objective.batches(config.batch_size, generator)
            else:
                epoch_batches = batches(n_samples, config.batch_size, generator)
            for idx in epoch_batches:
                loss, record = objective(idx)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if shard is not None:
                    shard.sum_gradients(module)
                optimizer.step()
                # a process's loss is its share of the global batch's
                total += loss.detach() * (len(idx) if shard is None
                                          else shard.batch_total)
                objective.tally(record)
            if shard is not None:
                total = shard.sum(total)
            epoch_loss = float(total) / n_samples
            if not np.isfinite(epoch_loss):
                raise FloatingPointError(
                    f"The training loss became {epoch_loss} at epoch {epoch}. Try a "
                    "lower learning_rate_init, a larger margin_weight, or check X for "
                    "extreme values."
                )
            summary = {"epoch": epoch, "loss": epoch_loss,
                       **objective.end_epoch(),
                       "time": time.perf_counter() - start}
            history.append(summary)
            progress.update(summary)
            change = summary.get(
                "change", (state.best - epoch_loss) / max(abs(state.best), 1e-12))
            state.best = min(state.best, epoch_loss)
            state.calm = state.calm + 1 if change < config.tol else 0
            state.epoch = epoch
            if config.n_iter_no_change and state.calm >= config.n_iter_no_change:
                stopped = True
                break
    except KeyboardInterrupt:
        warn_user(
            f"Training interrupted at epoch {state.epoch + 1}; the model keeps the "
            "weights it had then.", RuntimeWarning,
        )
        state.done = state.interrupted = True
        return state
    state.done = stopped or state.epoch >= config.max_iter
    return state


class Progress:
    """Progress of a whole fit: one tqdm bar when tqdm is installed, else one
    line per epoch; silent with ``verbose=0``.

    ``total`` is the planned number of epochs; :meth:`stage` names the part of
    the plan being trained (e.g. "restart 3 of 8"). A fit that stops early
    closes its bar at the epochs it ran, not at the plan's.
    """

    def __init__(self, total, verbose, desc):
        self.verbose, self.desc, self.bar, self.stage_text = verbose, desc, None, ""
        if verbose <= 0:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return
        self.bar = tqdm(total=total, desc=desc, unit="epoch", leave=True)

    def stage(self, text):
        """Name the part of the plan the next epochs belong to."""
        self.stage_text = text
        if self.bar is not None:
            self.bar.set_description_str(f"{self.desc} ({text})", refresh=False)

    def note(self, text):
        """Show one line of text (above the bar when there is one)."""
        if self.verbose <= 0:
            return
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, flush=True)

    def update(self, summary):
        if self.verbose <= 0:
            return
        hidden = ("epoch", "time", "cluster_sizes", "proportions")
        shown = {k: v for k, v in summary.items() if k not in hidden}
        text = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in shown.items()
        )
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=False)
            self.bar.update(1)
        else:
            where = f"{self.stage_text}, " if self.stage_text else ""
            print(f"{where}epoch {summary['epoch']}: {text} "
                  f"({summary['time']:.2f}s)", flush=True)

    def close(self):
        if self.bar is not None:
            if self.bar.n < self.bar.total:  # stopped early: end at what ran
                self.bar.total = self.bar.n
                self.bar.refresh()
            self.bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
