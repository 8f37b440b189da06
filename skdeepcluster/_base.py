"""The shared base of the torch-backed estimators.

It owns what the clusterer and the classifier have in common: device
resolution, seeding without touching global random state, network and
optimizer construction, the call into the epoch loop, batched inference and
device-independent pickling. Subclasses supply the batch objective.
"""

from __future__ import annotations

import io
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._networks import build_network
from ._optim import Adam
from ._training import InputScaler, LoopConfig, predict_logits, train

#: Version of the pickled state; bump when a release changes its layout.
PICKLE_FORMAT = 1


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
    if resolved.type == "cuda" and not torch.cuda.is_available():
        if fitting:
            raise ValueError(
                f"device={device!r} was requested but torch finds no CUDA GPU "
                f"(torch {torch.__version__}); use device='cpu' or device='auto'."
            )
        warnings.warn(
            f"device={device!r} is not available here; predicting on the CPU.",
            RuntimeWarning, stacklevel=3,
        )
        return torch.device("cpu")
    return resolved


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


def _check_float32_range(X):
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


class BaseDeepEstimator(BaseEstimator):
    """Base class: a torch network trained by an epoch loop on host data."""

    _parameter_constraints: dict = {
        "model": [StrOptions({"mlp", "conv", "linear"}), callable],
        "hidden_layer_sizes": ["array-like"],
        "image_shape": ["array-like", None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 0, None, closed="left")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    # ---- hooks for subclasses -------------------------------------------
    def _n_outputs(self) -> int:
        raise NotImplementedError

    def _make_objective(self, X, module, scaler, device, generator, **fit_data):
        """The batch objective; ``fit_data`` is what ``_train_once`` passed on
        (e.g. ``targets`` for a supervised estimator)."""
        raise NotImplementedError

    # ---- shared machinery -----------------------------------------------
    def _validate_X(self, X, *, reset):
        X = validate_data(
            self, X, reset=reset, dtype="numeric", accept_sparse=False,
            ensure_min_samples=2 if reset else 1,
        )
        _check_float32_range(X)
        return X

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

    def _train_once(self, X, seed, device, module=None, scaler=None, **fit_data):
        """Build (or continue) a network and train it; return a fitted state.

        Keyword arguments in ``fit_data`` (e.g. ``targets=...``) are handed to
        ``_make_objective`` unchanged.
        """
        run = self._start_run(X, seed, device, module, scaler, **fit_data)
        return self._advance_run(run)

    def _start_run(self, X, seed, device, module=None, scaler=None, **fit_data):
        """A run ready to train: network, optimizer, batch objective and the
        run's own random state (see :meth:`_advance_run`)."""
        generator = torch.Generator().manual_seed(seed)
        torch_rng = {}
        with private_torch_rng(seed, device, torch_rng):
            scaler = scaler or InputScaler.fit(X)
            module = module or self._build(X.shape[1], device)
            optimizer = Adam(module.parameters(), lr=self.learning_rate)
            objective = self._make_objective(X, module, scaler, device, generator,
                                             **fit_data)
        return {"module": module, "scaler": scaler, "history": [], "n_iter": 0,
                "interrupted": False, "objective": objective,
                "optimizer": optimizer, "generator": generator,
                "torch_rng": torch_rng, "loop": {}, "device": device}

    def _advance_run(self, run, pause_after=None):
        """Train ``run`` until the epoch loop ends, or pauses after epoch
        ``pause_after``; a run paused and advanced again trains exactly as one
        that never paused (same batches, same torch random draws, same
        early-stopping counters). Once the loop has ended the batch objective
        drops what only training needs."""
        config = LoopConfig(self._max_iter, self._batch_size, self.tol,
                            self.n_iter_no_change, self.verbose)
        with private_torch_rng(None, run["device"], run["torch_rng"]):
            run["n_iter"], run["interrupted"] = train(
                run["module"], run["optimizer"], run["objective"], config,
                run["generator"], run["history"], desc=type(self).__name__,
                state=run["loop"], pause_after=pause_after)
        if run["loop"]["done"]:
            run["objective"].release()
            run.pop("optimizer")
        return run

    def _logits(self, X) -> torch.Tensor:
        """Eval-mode logits for validated X (float32, on the CPU)."""
        device = resolve_device(self.device, fitting=False)
        if next(self.module_.parameters()).device != device:
            self.module_.to(device)
        return predict_logits(self.module_, X, self._scaler, device)

    def _proba(self, X):
        check_is_fitted(self, "module_")
        X = self._validate_X(X, reset=False)
        return torch.softmax(self._logits(X).double(), 1).numpy()

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
                f"__getstate__; this release reads formats 1 to {PICKLE_FORMAT}."
            )
        if not isinstance(found, Integral) or not 1 <= found <= PICKLE_FORMAT:
            raise ValueError(
                f"This {type(self).__name__} was pickled with state format "
                f"{found!r}, but this skdeepcluster release reads formats 1 to "
                f"{PICKLE_FORMAT}; load it with the release that saved it."
            )
        blob = state.pop("_module_bytes", None)
        if blob is not None:
            state["module_"] = torch.load(io.BytesIO(blob), map_location="cpu",
                                          weights_only=False)
        super().__setstate__(state)
