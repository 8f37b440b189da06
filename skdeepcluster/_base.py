"""The shared base of the torch-backed estimators.

It owns what the clusterer and the classifier have in common: validation of
X, device resolution, seeding without touching global random state, the
training run (network, optimizer, batch objective and loop state, as one
:class:`TrainingRun`), batched inference and device-independent pickling.
Subclasses supply the objective's arguments and the loop's settings.
"""

from __future__ import annotations

import inspect
import io
import threading
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._data import InputScaler
from ._distributed import synced_batch_norm
from ._inference import predict_logits
from ._loop import LoopConfig, LoopState, Progress, train
from ._networks import build_network, head_of
from ._optim import Adam
from ._warn import warn_user

#: Version of the pickled state; bump when a release changes its layout.
PICKLE_FORMAT = 2
#: The oldest state format this release reads: format 1 (up to commit
#: 1b6b3ef) stored parameters under names since renamed.
MIN_PICKLE_FORMAT = 2


def resolve_device(device, *, fitting=True) -> torch.device:
    """Resolve the ``device`` parameter ("auto", "cpu", "cuda", "cuda:1", ...)."""
    if isinstance(device, torch.device):
        device = str(device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(
            f"device={device!r} is not a device torch knows ({exc}); use 'auto', "
            "'cpu', 'cuda' or 'cuda:<index>'."
        ) from exc
    if resolved.type == "cpu" or _device_works(resolved):
        return resolved
    if fitting:
        found = ("finds no CUDA GPU" if not torch.cuda.is_available() else
                 f"finds {torch.cuda.device_count()} CUDA GPU(s)")
        if resolved.type != "cuda":
            found = f"cannot use a {resolved.type!r} device on this machine"
        raise ValueError(
            f"device={device!r} was requested but torch {torch.__version__} "
            f"{found}; use device='cpu' or device='auto'."
        )
    warn_user(f"device={device!r} is not available here; predicting on the CPU.",
              RuntimeWarning)
    return torch.device("cpu")


def _device_works(device) -> bool:
    """Whether torch can place (and compute on) a tensor on ``device`` here."""
    if device.type == "meta":  # shapes only: nothing to train on
        return False
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return False
        index = 0 if device.index is None else device.index
        return index < torch.cuda.device_count()
    try:
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError):  # no such backend or device
        return False
    return True


def draw_seeds(random_state, n) -> list[int]:
    """``n`` 31-bit seeds from ``random_state``; numpy's global RNG is untouched.

    None draws fresh OS entropy rather than from ``np.random``'s global state.
    """
    if random_state is None:
        return [int(s >> 1) for s in np.random.SeedSequence().generate_state(n)]
    rng = check_random_state(random_state)
    return [int(s) for s in rng.randint(np.iinfo(np.int32).max, size=n)]


@contextmanager
def private_torch_rng(seed, device, saved=None):
    """Seed torch's default generators inside a fork, restoring them after.

    Layer initialisation and dropout in user modules draw from torch's global
    generator; forking it keeps ``fit`` deterministic for an int seed while the
    caller's global random state is left exactly as it was. With a ``saved``
    dict the fork resumes the generators from the state it holds (when it
    holds one, in place of seeding) and stores theirs there on the way out, so
    a run paused and resumed draws what one uninterrupted fork would.
    """
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        if saved:
            torch.set_rng_state(saved["cpu"])
            if devices:
                torch.cuda.set_rng_state(saved["cuda"], device)
        else:
            torch.manual_seed(seed)
        yield
        if saved is not None:
            saved["cpu"] = torch.get_rng_state()
            if devices:
                saved["cuda"] = torch.cuda.get_rng_state(device)


def check_float32_range(X):
    """Refuse values the float32 network would turn into inf (X already validated).

    Centring can double a magnitude, so the limit is half of float32's largest
    value. ``max`` and ``min`` stream over X (a memmap too) without a copy.
    """
    if X.dtype.kind != "f" or X.dtype.itemsize <= 2 or X.size == 0:
        return
    limit = float(np.finfo(np.float32).max) / 2
    largest = max(abs(float(X.max())), abs(float(X.min())))
    if largest > limit:
        raise ValueError(
            f"X holds a value of magnitude {largest:.3g}, beyond the {limit:.3g} "
            "the network's float32 arithmetic can hold; rescale X (for example "
            "with sklearn.preprocessing.StandardScaler)."
        )


#: A CPU fit of a built-in dense network ("mlp", "linear") whose step
#: multiplies fewer weights than this (``batch_size`` times the number of
#: weights) trains on one torch thread; see :func:`cpu_threads`.
ONE_THREAD_WORK = 2**27


@contextmanager
def cpu_threads(device, work):
    """Train on one torch thread when the fit is on the CPU and each step is
    small (``work``, the multiply-adds of a step's forward pass, below
    :data:`ONE_THREAD_WORK`; None: not known), restoring torch's count after.

    Steps of a few tens of millions of multiply-adds are too short for
    OpenMP threads to pay: on two cores two threads were only 1.3 to 1.5
    times faster than one on a quiet machine, and several times slower once
    another process kept a core busy, because the threads wait for each
    other at every operation (``benchmarks/bench_load.py``). One thread per
    small fit lets fits share a machine, and ``n_jobs`` or a grid search
    use its cores. Only a fit in the main thread changes the count.
    """
    before = torch.get_num_threads()
    # torch's count is the process's: a fit in another thread (a Dask worker
    # with several threads, joblib's threading backend) leaves it alone, so
    # that fits running side by side do not reset it under each other
    limit = (device.type == "cpu" and work is not None and work < ONE_THREAD_WORK
             and threading.current_thread() is threading.main_thread())
    if limit:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if limit:
            torch.set_num_threads(before)


@dataclass
class TrainingRun:
    """One training run: a network, what trains it and where its loop stands.

    A run is started by :meth:`BaseDeepEstimator._start_run` and advanced
    (possibly in several legs) by :meth:`BaseDeepEstimator._advance_run`.
    ``torch_rng`` holds the state of the run's fork of torch's default
    generators between legs. ``objective_value`` and ``labels`` are set when
    the run is scored on the training data, and ``scored_at`` is the epoch it
    was scored at.
    """

    module: torch.nn.Module
    scaler: InputScaler
    objective: object
    optimizer: torch.optim.Optimizer | None
    generator: torch.Generator
    device: torch.device
    config: LoopConfig
    torch_rng: dict = field(default_factory=dict)
    loop: LoopState = field(default_factory=LoopState)
    history: list = field(default_factory=list)
    objective_value: float | None = None
    labels: np.ndarray | None = None
    scored_at: int | None = None

    @property
    def n_iter(self) -> int:
        """Epochs trained so far."""
        return self.loop.epoch

    @property
    def done(self) -> bool:
        return self.loop.done

    @property
    def interrupted(self) -> bool:
        return self.loop.interrupted


class BaseDeepEstimator(BaseEstimator):
    """Base class: a torch network trained by an epoch loop on host data."""

    _parameter_constraints: dict = {
        "model": [StrOptions({"mlp", "conv", "linear"}), callable],
        "hidden_layer_sizes": ["array-like"],
        "image_shape": ["array-like", None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "margin_weight": [Interval(Real, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 0, None, closed="left")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    #: The batch objective's class (see :mod:`skdeepcluster.objectives`); a
    #: subclass of the estimator sets its own to vary the objective.
    objective_class: type

    # ---- hooks for subclasses -------------------------------------------
    def _n_outputs(self) -> int:
        raise NotImplementedError

    def _objective_params(self, X, scaler, generator, **fit_data) -> dict:
        """Keyword arguments of ``objective_class`` beyond ``(X, module,
        scaler, device)``; ``fit_data`` is what the subclass passed to
        :meth:`_start_run` (e.g. ``targets`` for a supervised estimator)."""
        raise NotImplementedError

    # ---- shared machinery -----------------------------------------------
    def _validate_X(self, X, *, reset):
        X = validate_data(
            self, X, reset=reset, dtype="numeric", accept_sparse=False,
            ensure_min_samples=2 if reset else 1,
        )
        check_float32_range(X)
        return X

    def _is_default(self, name) -> bool:
        """Whether parameter ``name`` still has its constructor default."""
        default = inspect.signature(type(self).__init__).parameters[name].default
        value = getattr(self, name)
        if isinstance(value, str) or isinstance(default, str):
            return value == default
        try:
            return bool(np.array_equal(np.asarray(value, dtype=object),
                                       np.asarray(default, dtype=object)))
        except (TypeError, ValueError):
            return value is default

    def _warn_unused(self, unused):
        """Warn, once per fit, about parameters set away from their default
        that the other settings make this fit ignore; ``unused`` maps each
        parameter name to the reason."""
        for name, reason in unused.items():
            if not self._is_default(name):
                warn_user(f"{name}={getattr(self, name)!r} is ignored: {reason}.")

    def _network_unused(self):
        """The network parameters the chosen ``model`` ignores."""
        unused = {}
        if self.model == "linear" or callable(self.model):
            what = "a callable" if callable(self.model) else "'linear'"
            unused["hidden_layer_sizes"] = (
                f"model={what} has no hidden layers of this estimator's making")
        return unused

    def _hidden_sizes(self):
        sizes = np.asarray(self.hidden_layer_sizes, dtype=float).ravel()
        if np.any(sizes < 1) or np.any(sizes != np.round(sizes)):
            raise ValueError(
                "hidden_layer_sizes must hold positive integers; got "
                f"{self.hidden_layer_sizes!r}."
            )
        return [int(s) for s in sizes]

    def _build(self, n_features, device):
        module = build_network(self.model, n_features, self._n_outputs(),
                               self._hidden_sizes(), self.image_shape)
        return module.to(device)

    def _step_work(self, n_features, batch_size):
        """Multiply-adds of one step's forward pass for the built-in dense
        networks ("mlp", "linear"); None for the ConvNet and user modules."""
        if self.model == "linear":
            widths = [n_features, self._n_outputs()]
        elif self.model == "mlp":
            widths = [n_features, *self._hidden_sizes(), self._n_outputs()]
        else:
            return None
        return batch_size * sum(a * b for a, b in zip(widths, widths[1:]))

    def _threads(self, X, device, batch_size):
        """The torch threads of this fit (see :func:`cpu_threads`)."""
        return cpu_threads(device, self._step_work(X.shape[1], batch_size))

    def _loop_config(self, max_iter, batch_size) -> LoopConfig:
        return LoopConfig(max_iter=max_iter, batch_size=batch_size, tol=self.tol,
                          n_iter_no_change=self.n_iter_no_change)

    def _progress(self, total_epochs, shown=True) -> Progress:
        """The progress display of one fit (silent unless ``verbose``, and on
        the processes of a data-parallel fit but the first: ``shown=False``)."""
        return Progress(total_epochs, self.verbose if shown else 0,
                        type(self).__name__)

    def _start_run(self, X, seed, device, config, module=None, scaler=None,
                   **fit_data) -> TrainingRun:
        """A run ready to train: network (``module`` to continue one),
        optimizer, batch objective and the run's own random state."""
        generator = torch.Generator().manual_seed(seed)
        torch_rng = {}
        with private_torch_rng(seed, device, torch_rng):
            scaler = scaler or InputScaler.fit(X)
            module = module or self._build(X.shape[1], device)
            if head_of(module) is None:
                self._warn_unused({"margin_weight": "the network has no "
                                                   "torch.nn.Linear layer"})
            optimizer = Adam(module.parameters(), lr=self.learning_rate_init)
            objective = self.objective_class(
                X, module, scaler, device,
                **self._objective_params(X, scaler, generator, **fit_data))
        return TrainingRun(module=module, scaler=scaler, objective=objective,
                           optimizer=optimizer, generator=generator, device=device,
                           config=config, torch_rng=torch_rng)

    def _advance_run(self, run, progress, pause_after=None) -> TrainingRun:
        """Train ``run`` until its epoch loop ends, or pauses after epoch
        ``pause_after``; a run paused and advanced again trains exactly as one
        that never paused (same batches, same torch random draws, same
        early-stopping counters). Once the loop has ended the batch objective
        drops what only training needs, and the run its optimizer."""
        shard = getattr(run.objective, "shard", None)
        with (private_torch_rng(None, run.device, run.torch_rng),
              nullcontext() if shard is None
              else synced_batch_norm(run.module, shard)):
            train(run.module, run.optimizer, run.objective, run.config,
                  run.generator, run.history, run.loop, progress,
                  pause_after=pause_after)
        if run.done:
            run.objective.release()
            run.optimizer = None
        return run

    def _logits(self, X) -> torch.Tensor:
        """Eval-mode logits for validated X (float32, on the CPU)."""
        device = resolve_device(self.device, fitting=False)
        if next(self.module_.parameters()).device != device:
            self.module_.to(device)
        return predict_logits(self.module_, X, self._scaler, device)

    def _proba(self, X, log=False):
        """(Log-)softmax of the network's outputs on X, as float64 NumPy."""
        check_is_fitted(self, "module_")
        X = self._validate_X(X, reset=False)
        softmax = torch.log_softmax if log else torch.softmax
        return softmax(self._logits(X).double(), 1).numpy()

    # ---- pickling -----------------------------------------------------------
    def __getstate__(self):
        # On Python >= 3.11 the base returns self.__dict__ itself: copy it, or
        # pickling would strip module_ from the live estimator.
        state = dict(super().__getstate__())
        module = state.pop("module_", None)
        if module is not None:
            buffer = io.BytesIO()
            torch.save(module, buffer)
            state["_module_bytes"] = buffer.getvalue()
        state["_pickle_format"] = PICKLE_FORMAT
        return state

    def __setstate__(self, state):
        state = dict(state)
        found = state.pop("_pickle_format", None)
        if found is None:
            raise ValueError(
                f"This pickled {type(self).__name__} carries no state format "
                "(_pickle_format), so it was not written by skdeepcluster's "
                f"__getstate__; this release reads formats {MIN_PICKLE_FORMAT} to "
                f"{PICKLE_FORMAT}."
            )
        if (not isinstance(found, Integral)
                or not MIN_PICKLE_FORMAT <= found <= PICKLE_FORMAT):
            raise ValueError(
                f"This {type(self).__name__} was pickled with state format "
                f"{found!r}, but this skdeepcluster release reads formats "
                f"{MIN_PICKLE_FORMAT} to {PICKLE_FORMAT}; load it with the "
                "release that saved it."
            )
        blob = state.pop("_module_bytes", None)
        if blob is not None:
            state["module_"] = torch.load(io.BytesIO(blob), map_location="cpu",
                                          weights_only=False)
        super().__setstate__(state)
