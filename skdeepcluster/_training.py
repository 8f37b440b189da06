"""The epoch loop and the batch objectives. Knows torch, not scikit-learn.

Data stay in host memory (a NumPy array or memmap) and stream to the device
one mini-batch at a time, so device memory does not grow with n_samples.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from . import losses
from . import pseudo_labels as pl
from ._networks import head_of
from .metrics import _size_balance
from .pseudo_labels import pseudo_label_objective, sinkhorn_knopp


class InputScaler:
    """Centre features and divide by one global scale, on the device.

    A single scale (the root-mean-square of the centred data) keeps the relative
    weight of features, as K-means does, while making the network insensitive
    to the units of X (pixels in 0..255 or in 0..1 give the same fit).
    """

    def __init__(self, mean: np.ndarray, scale: float):
        self.mean = np.asarray(mean, dtype=np.float32)
        self.scale = float(scale)
        self._on = {}

    @classmethod
    def fit(cls, X, chunk=8192):
        """Statistics of X in float64, one chunk at a time (a memmap is not copied).

        Each chunk is centred on its own mean and the chunks are merged (Chan et
        al.'s pairwise update), so a large offset (1e8 + noise) does not cancel
        the variance away; squares of values in float32's range (all the
        estimator accepts) do not overflow float64. Constant data get scale
        1; a tiny scale is floored at float32's smallest normal number so the
        float32 division never divides by zero.
        """
        n, d = X.shape
        mean = np.zeros(d)
        m2 = np.zeros(d)  # sum of squared deviations from the running mean
        seen = 0
        for start in range(0, n, chunk):
            block = np.asarray(X[start : start + chunk], dtype=np.float64)
            size = block.shape[0]
            block_mean = block.mean(0)
            block_m2 = ((block - block_mean) ** 2).sum(0)
            delta = block_mean - mean
            total = seen + size
            mean = mean + delta * (size / total)
            m2 = m2 + block_m2 + delta * delta * (seen * size / total)
            seen = total
        var = float((m2 / n).mean())
        scale = float(np.sqrt(var)) if np.isfinite(var) and var > 0 else 1.0
        return cls(mean, max(scale, float(np.finfo(np.float32).tiny)))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        key = (x.device, x.dtype)
        if key not in self._on:
            self._on[key] = torch.as_tensor(self.mean, device=x.device, dtype=x.dtype)
        return (x - self._on[key]) / self.scale

    def __getstate__(self):
        return {"mean": self.mean, "scale": self.scale}

    def __setstate__(self, state):
        self.__init__(state["mean"], state["scale"])


def host_rows(X, idx) -> np.ndarray:
    """Rows ``idx`` of host array X as a C-ordered, writable float32 array.

    Copies only when needed: indexing with an array already copies, while a
    slice of a read-only memmap would otherwise reach torch as a read-only
    view.
    """
    return np.require(X[idx], dtype=np.float32, requirements=["C", "W"])


def fetch(X, idx, device) -> torch.Tensor:
    """Rows ``idx`` of host array X as a float32 tensor on ``device``."""
    batch = torch.from_numpy(host_rows(X, idx))
    if device.type == "cuda":
        return batch.pin_memory().to(device, non_blocking=True)
    return batch.to(device)


def _eval_logits(module, X, scaler, device, batch_size):
    """Yield ``(start, logits)`` batch by batch: eval-mode, float32, on the CPU."""
    was_training = module.training
    module.eval()
    try:
        for start in range(0, X.shape[0], batch_size):
            part = module(scaler(fetch(X, slice(start, start + batch_size), device)))
            yield start, part.float().cpu()
    finally:
        module.train(was_training)


@torch.inference_mode()
def predict_logits(module, X, scaler, device, batch_size=4096) -> torch.Tensor:
    """Eval-mode logits for every row of X, as a float32 CPU tensor.

    The output is allocated once and filled batch by batch: collecting
    per-batch tensors and concatenating them fragments the heap (about 1 GiB
    of extra resident memory for a million rows).
    """
    out = None
    for start, part in _eval_logits(module, X, scaler, device, batch_size):
        if out is None:
            out = torch.empty((X.shape[0], part.shape[1]), dtype=torch.float32)
        out[start : start + part.shape[0]] = part
    return out


@torch.inference_mode()
def predict_labels_and_sample(module, X, scaler, device, every, batch_size=4096):
    """One eval-mode pass over X for the end of a fit.

    Returns the argmax label of every row (the labels ``predict`` gives), the
    logits of rows ``0, every, 2·every, ...`` and whether every logit was
    finite. It holds n labels and n / every logits instead of all n × K
    logits (400 MB for a million rows and 100 clusters). Both are written
    into arrays allocated once: a small tensor kept from each batch would
    be carved out of the memory the batch's activations just freed, and the
    next batch would need fresh memory (up to 480 MiB more resident memory
    over a million rows, measured by ``benchmarks/bench_memmap.py``).
    """
    n_samples = X.shape[0]
    labels = np.empty(n_samples, dtype=np.int64)
    out_labels = torch.from_numpy(labels)
    sample, finite = None, True
    for start, part in _eval_logits(module, X, scaler, device, batch_size):
        stop = start + part.shape[0]
        if sample is None:
            sample = torch.empty((-(-n_samples // every), part.shape[1]),
                                 dtype=torch.float32)
        finite = finite and bool(torch.isfinite(part).all())
        torch.argmax(part, 1, out=out_labels[start:stop])
        first = start + (-start) % every  # the first kept row of this batch
        rows, at = part[first - start :: every], first // every
        sample[at : at + rows.shape[0]] = rows
    return labels, sample, finite


def batches(n_samples, batch_size, generator):
    """Shuffled index batches of near-equal size (none of size 1 unless n is 1).

    The permutation is drawn now; each batch is a sorted copy of a slice of
    it, made when the loop reaches it (not all at once: 8 MB per epoch for
    a million rows).
    """
    order = torch.randperm(n_samples, generator=generator).numpy()
    n_batches = max(1, n_samples // batch_size)
    return (np.sort(b) for b in np.array_split(order, n_batches))


def _add_up(sums, values):
    """Running totals: ``values`` added key by key to ``sums`` (None: none yet)."""
    if sums is None:
        return dict(values)
    return {key: sums[key] + value for key, value in values.items()}


#: Certified relative gap of each mini-batch y-step (both losses; measured
#: for collision). Against 1e-4 (the
#: default of ``solve_pseudo_labels``) it takes 46% fewer EM iterations on
#: y-problems recorded from MNIST training (7.0 against 12.8 on average),
#: while the pseudo-labels stay within 0.15% of the exact optimum's mass per
#: row (mean L1 distance 1.5e-3) and keep its argmax on 99.97% of rows
#: (``benchmarks/dev/ystep_tolerance_experiment.py``).
YSTEP_TOL = 1e-3


@dataclass
class LoopConfig:
    max_iter: int
    batch_size: int
    tol: float
    n_iter_no_change: int
    verbose: int = 0


class SelfLabeling:
    """Self-labeling batch objective for clustering (THEORY.md §2-3).

    Each mini-batch: forward the points (and a paired view: a nearest
    neighbour and/or an augmented copy), solve the pseudo-labels of the batch
    on the detached predictions (the y-step), and return the network loss of
    both views against those pseudo-labels plus the head's margin penalty.
    """

    def __init__(self, X, module, scaler, device, *, loss, fairness_weight, prior,
                 solver, weight_decay, neighbors, augmenter, generator,
                 pair_neighbors=True, adversarial_weight=0.0,
                 adversarial_radius=0.25):
        self.X, self.module, self.scaler, self.device = X, module, scaler, device
        self.loss, self.fairness_weight, self.solver = loss, fairness_weight, solver
        self.prior = None if prior is None else torch.as_tensor(prior, device=device)
        self.weight_decay, self.neighbors = weight_decay, neighbors
        self.pair_neighbors = pair_neighbors and neighbors is not None
        self.adversarial_weight = adversarial_weight
        self.adversarial_radius = adversarial_radius
        self.augmenter, self.generator = augmenter, generator
        self.head = head_of(module)
        # each point's latest pseudo-label (-1: none yet), on the device
        self.last_labels = torch.full((X.shape[0],), -1, dtype=torch.int64,
                                      device=device)
        self._sums = None  # the epoch's running statistics
        self._prior_cache = {}  # u and ln u as tensors, per (dtype, device)

    def _view(self, x):
        if self.augmenter is not None:
            x = self.augmenter(x)
        return self.scaler(x)

    def _log_prior(self, like):
        """``ln u`` as a tensor like ``like`` (None for the uniform prior)."""
        if self.prior is None:
            return None
        key = ("ln u", like.dtype, like.device)
        if key not in self._prior_cache:
            self._prior_cache[key] = losses._log_prior(self.prior.to(like))
        return self._prior_cache[key]

    def _pseudo_labels(self, probs, tol=YSTEP_TOL):
        if self.loss == "shannon":
            prior = None if self.prior is None else self.prior.to(probs)
            return sinkhorn_knopp(probs, prior=prior)
        # the y-step of every batch: validated once, solved from the uniform start
        key = ("u", probs.dtype, probs.device)
        if key not in self._prior_cache:
            self._prior_cache[key] = pl._prior_tensor(self.prior, probs)
        labels, _ = pl._solve(probs, None, self.loss, float(self.fairness_weight),
                              self._prior_cache[key], self.solver, pl.MAX_ITER,
                              tol)
        return labels

    def _network_loss(self, logits, log_probs, target, log_target):
        if self.loss == "collision":
            return losses._collision_from_log_probs(log_probs, log_target).mean()
        if self.loss == "reverse":
            return losses.reverse_cross_entropy(logits, target)
        return losses.cross_entropy(logits, target)

    def _adversarial_loss(self, inputs, log_p, idx):
        """Virtual adversarial training (Miyato et al. 2018; IMSAT, Hu et al.
        2017): ``KL(σ(x) ‖ σ(x + r))`` for the perturbation ``r`` that changes
        the prediction most, found by one power iteration.

        The radius of ``r`` is ``adversarial_radius`` times the distance of
        each point to the last of its listed nearest neighbours, in the
        network's input space: small where the data are dense, larger where
        they are sparse.
        """
        far = self.scaler(fetch(self.X, self.neighbors[idx, -1], self.device))
        radius = self.adversarial_radius * (inputs - far).norm(dim=1, keepdim=True)
        p = log_p.exp()

        def divergence(r):
            log_q = torch.log_softmax(self.module(inputs + r).float(), 1)
            return (p * (log_p - log_q)).sum(1)

        d = torch.randn(inputs.shape, generator=self.generator).to(inputs)
        d = (d / d.norm(dim=1, keepdim=True).clamp_min(1e-12)).requires_grad_(True)
        (grad,) = torch.autograd.grad(divergence(0.5 * radius * d).sum(), d)
        r = radius * grad / grad.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return divergence(r.detach()).mean()

    def __call__(self, idx):
        x = fetch(self.X, idx, self.device)
        views = [self._view(x)]
        if self.pair_neighbors:
            pick = torch.randint(self.neighbors.shape[1], (len(idx),),
                                 generator=self.generator).numpy()
            views.append(self._view(fetch(self.X, self.neighbors[idx, pick],
                                          self.device)))
        elif self.augmenter is not None:
            views.append(self._view(x))
        batch = views[0] if len(views) == 1 else torch.cat(views)
        logits = self.module(batch).float().chunk(len(views))
        # ln σ once per view: the y-step, every loss term and the epoch
        # statistics share it (each log-softmax is a full kernel launch)
        log_probs = [torch.log_softmax(z, 1) for z in logits]
        with torch.no_grad():
            if len(views) == 1:
                probs = log_probs[0].detach().exp()
            else:  # the views' product of experts
                probs = torch.softmax(sum(lp.detach() for lp in log_probs), 1)
            target = self._pseudo_labels(probs)
            # y-step rows are on the simplex: each has mass
            log_target = target.log() if self.loss == "collision" else None
        loss = sum(self._network_loss(z, lp, target, log_target)
                   for z, lp in zip(logits, log_probs)) / len(logits)
        if self.fairness_weight > 0:
            # weak fairness on the network's own batch marginal: the y-step's
            # strong fairness cannot move confident predictions on its own
            loss = loss + self.fairness_weight * sum(
                losses._weak_fairness_from_log_probs(lp, self._log_prior(lp))
                for lp in log_probs) / len(logits)
        if self.weight_decay > 0 and self.head is not None:
            loss = loss + self.weight_decay * self.head.weight.pow(2).sum()
        if self.adversarial_weight > 0:
            loss = loss + self.adversarial_weight * self._adversarial_loss(
                views[0], log_probs[0].detach(), idx)
        with torch.no_grad():
            log_p = log_probs[0].detach()
            p = log_p.exp() if len(views) > 1 else probs
            stats = {"labels": target.argmax(1), "idx": idx, "prob_sum": p.sum(0),
                     "entropy_sum": losses._entropy_from_log_probs(log_p, p).sum()}
        return loss, stats

    def tally(self, record):
        """Add one batch's statistics to the epoch's running totals.

        Nothing is kept per batch: a million rows make thousands of batches,
        and small tensors kept from each would be carved out of the memory
        the batches' activations free, so that each batch needs fresh memory.
        The totals stay on the device (no synchronisation per batch).
        """
        idx = torch.from_numpy(record["idx"]).to(self.last_labels.device)
        labels = record["labels"]
        moved = (self.last_labels[idx] != labels).sum()
        self.last_labels[idx] = labels
        self._sums = _add_up(self._sums, {"changed": moved,
                                          "prob_sum": record["prob_sum"],
                                          "entropy_sum": record["entropy_sum"]})

    def end_epoch(self):
        """Summarise the epoch from what the batches saw, at no extra forward
        pass, and start the next one's totals.

        ``score`` is the mutual-information estimate of the training-mode
        predictions, ``cluster_sizes`` counts the pseudo-labels' argmax, and
        ``change`` is the fraction of points whose pseudo-label moved, and
        ``balance`` is :func:`~skdeepcluster.metrics.cluster_balance` of those
        sizes (1 when all clusters are equal).
        """
        sums, self._sums = self._sums, None
        n = len(self.last_labels)
        changed = int(sums["changed"])
        mean_prob = (sums["prob_sum"] / n).clamp_min(1e-30)
        mean_entropy = float(sums["entropy_sum"]) / n
        sizes = torch.bincount(self.last_labels,
                               minlength=mean_prob.numel()).cpu().numpy()
        return {
            "score": float(-(mean_prob * mean_prob.log()).sum()) - mean_entropy,
            "change": changed / n,
            "cluster_sizes": sizes.tolist(),
            "balance": _size_balance(sizes, len(sizes)),
        }

    def release(self):
        """Drop what only training needs (the neighbour lists: 40 MB for a
        million rows, the latest pseudo-labels), before the final inference
        over X."""
        self.neighbors = self.last_labels = self._sums = None

    #: The final objective is evaluated on at most this many evenly spaced rows.
    objective_rows = 100_000

    @classmethod
    def objective_every(cls, n_samples):
        """The spacing of the rows the final objective is evaluated on."""
        return -(-n_samples // cls.objective_rows)

    def objective_value(self, logits):
        """The self-labeling objective, minimised over Y, on ``logits``: those
        of every row, or of at most ``objective_rows`` evenly spaced rows (the
        y-step on all rows of a large X would hold several copies of it).
        Restarts are ranked by it, so its y-step is solved to the solver's
        default tolerance (1e-4), not the looser one of the mini-batches. It
        runs in float32, which halves the memory of that y-step: on digits
        the value moved by at most 2e-6 relative to float64, while restarts
        differ by 1.5e-2 or more."""
        logits = logits.float()
        probs = torch.softmax(logits, 1)
        target = self._pseudo_labels(probs, tol=pl.TOL)
        if self.loss == "shannon":
            return float(losses.cross_entropy(logits, target))
        prior = None if self.prior is None else self.prior.to(probs)
        return float(pseudo_label_objective(target, probs, loss=self.loss,
                                            fairness_weight=self.fairness_weight,
                                            prior=prior))


def train(module, optimizer, objective, config: LoopConfig, generator, history,
          *, desc="fit", state=None, pause_after=None):
    """Run up to ``config.max_iter`` epochs; return (epochs run, interrupted).

    Stops early when the objective's per-epoch ``change`` (or the relative
    loss improvement) stays below ``tol`` for ``n_iter_no_change`` epochs.
    Ctrl-C ends training after a warning; the module keeps its current weights.
    A non-finite loss raises ``FloatingPointError`` naming the epoch.

    ``pause_after`` returns after that epoch; passing the same ``state`` dict
    to a later call resumes the loop where it paused (its epoch count and
    early-stopping counters), so a paused and resumed run trains exactly as
    one that never paused. ``state["done"]`` tells whether the loop ended
    (early stop or ``max_iter``).
    """
    n_samples = objective.X.shape[0]
    state = {} if state is None else state
    calm, best = state.get("calm", 0), state.get("best", np.inf)
    epoch = first = state.get("epoch", 0)
    last = config.max_iter if pause_after is None else min(pause_after, config.max_iter)
    stopped = False  # by the early-stopping rule
    module.train()
    progress = _Progress(last - first, config.verbose, desc)
    try:
        for epoch in range(first + 1, last + 1):
            start = time.perf_counter()
            total = torch.zeros((), device=next(module.parameters()).device)
            for idx in batches(n_samples, config.batch_size, generator):
                loss, record = objective(idx)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.detach() * len(idx)
                objective.tally(record)
            epoch_loss = float(total) / n_samples
            if not np.isfinite(epoch_loss):
                raise FloatingPointError(
                    f"The training loss became {epoch_loss} at epoch {epoch}. Try a "
                    "lower learning_rate, a larger weight_decay, or check X for "
                    "extreme values."
                )
            summary = {"epoch": epoch, "loss": epoch_loss,
                       **objective.end_epoch(),
                       "time": time.perf_counter() - start}
            history.append(summary)
            progress.update(summary)
            change = summary.get("change", (best - epoch_loss) / max(abs(best), 1e-12))
            best = min(best, epoch_loss)
            calm = calm + 1 if change < config.tol else 0
            state.update(calm=calm, best=best, epoch=epoch)
            if config.n_iter_no_change and calm >= config.n_iter_no_change:
                stopped = True
                break
    except KeyboardInterrupt:
        warnings.warn(
            f"Training interrupted at epoch {epoch}; the model keeps the weights "
            "it had then.", RuntimeWarning, stacklevel=3,
        )
        state["done"] = True
        return max(epoch - 1, first), True
    finally:
        progress.close()
    state["done"] = stopped or epoch >= config.max_iter
    return epoch, False


class _Progress:
    """Per-epoch progress: a tqdm bar when available, else plain lines."""

    def __init__(self, total, verbose, desc):
        self.verbose, self.bar = verbose, None
        if verbose <= 0:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return
        self.bar = tqdm(total=total, desc=desc, unit="epoch", leave=True)

    def update(self, summary):
        if self.verbose <= 0:
            return
        hidden = ("epoch", "time", "cluster_sizes")
        shown = {k: v for k, v in summary.items() if k not in hidden}
        text = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in shown.items()
        )
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=False)
            self.bar.update(1)
        else:
            print(f"epoch {summary['epoch']}: {text} ({summary['time']:.2f}s)",
                  flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


class Supervised:
    """Supervised batch objective: a classification loss against fixed targets.

    ``targets`` are either class indices, an int64 array of shape
    (n_samples,), or soft labels, a float32 array of shape
    (n_samples, n_classes) whose rows lie on the simplex. They stay in host
    memory beside X and stream to the device with each mini-batch.

    ``loss`` is "collision" (``-ln <y, σ>``: an uncertain target pulls less,
    a uniform one not at all), "shannon" (``H(y, σ)``: σ copies y),
    "complement" (complement cross-entropy with weight ``gamma``) or "focal"
    (focal loss with exponent ``gamma``); the last two need class indices.
    ``weight_decay`` weighs ``||W||²`` of the network's head, as in
    :class:`SelfLabeling`.
    """

    def __init__(self, X, targets, module, scaler, device, *, loss, gamma=None,
                 weight_decay=0.0):
        if targets.ndim == 2 and loss in ("complement", "focal"):
            raise ValueError(f"loss={loss!r} needs class-index targets.")
        self.X, self.targets = X, targets
        self.module, self.scaler, self.device = module, scaler, device
        self.loss, self.gamma, self.weight_decay = loss, gamma, weight_decay
        self.soft = targets.ndim == 2
        self.head = head_of(module)
        self.best_loss = np.inf
        self._sums = None  # the epoch's running statistics

    def _batch_loss(self, logits, target):
        if self.loss == "collision":
            return losses.collision_cross_entropy(logits, target)
        if self.loss == "shannon":
            return losses.cross_entropy(logits, target)
        if self.loss == "complement":
            return losses.complement_cross_entropy(logits, target, gamma=self.gamma)
        if self.loss == "focal":
            return losses.focal_loss(logits, target, gamma=self.gamma)
        raise ValueError(f"Unknown loss={self.loss!r}.")

    def __call__(self, idx):
        # The loss is taken in float64: float32 rounding leaves a ~1e-8 gradient
        # where the exact one is 0 (collision CE on a uniform target), and Adam,
        # which normalises gradient sizes, would turn that into full steps.
        logits = self.module(self.scaler(fetch(self.X, idx, self.device))).double()
        target = torch.from_numpy(np.ascontiguousarray(self.targets[idx]))
        target = target.to(self.device)
        loss = self._batch_loss(logits, target)
        if self.weight_decay > 0 and self.head is not None:
            loss = loss + self.weight_decay * self.head.weight.pow(2).sum()
        with torch.no_grad():
            truth = target.argmax(1) if self.soft else target
            correct = (logits.detach().argmax(1) == truth).sum()
        return loss, {"loss": loss.detach() * len(idx), "correct": correct,
                      "n": len(idx)}

    def release(self):
        """Nothing to drop: the targets belong to the caller."""

    def tally(self, record):
        """Add one batch's statistics to the epoch's running totals (see
        :meth:`SelfLabeling.tally`)."""
        self._sums = _add_up(self._sums, record)

    def end_epoch(self):
        """Summarise the epoch from what the batches saw, at no extra pass,
        and start the next one's totals.

        ``accuracy`` scores the training-mode predictions against the targets
        (their argmax for soft labels); ``change`` is the absolute improvement
        of the epoch's training loss over the best epoch so far (the
        early-stopping criterion of ``MLPClassifier``).
        """
        sums, self._sums = self._sums, None
        n = max(sums["n"], 1)
        epoch_loss = float(sums["loss"]) / n
        change = self.best_loss - epoch_loss
        self.best_loss = min(self.best_loss, epoch_loss)
        return {"accuracy": float(sums["correct"]) / n, "change": change}
