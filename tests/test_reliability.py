"""Reliability: bad input, faults during fit, persistence, reproducibility.

Every fit here is small (tens of points, a few epochs, a tiny network) so the
file runs in seconds and does not depend on the default training recipe.
"""

import hashlib
import io
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import validate_data

import skdeepcluster
from skdeepcluster import DeepEntropyClustering
from skdeepcluster._base import PICKLE_FORMAT
from skdeepcluster._data import InputScaler

# Fits of a few epochs often leave a cluster empty; the tests about that warning
# catch it with pytest.warns, which records it whatever the filters say.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

no_cuda = pytest.mark.skipif(torch.cuda.is_available(),
                             reason="simulates a machine without a CUDA GPU")


@pytest.fixture(scope="module")
def X():
    X, _ = make_blobs(n_samples=60, n_features=4, centers=3, random_state=0)
    return X


SMALL = {"n_clusters": 3, "max_iter": 3, "hidden_layer_sizes": (16,),
         "n_neighbors": 3, "batch_size": 30, "n_iter_no_change": 0,
         "n_init": 1, "device": "cpu", "random_state": 0,
         # the faults below count the network's calls from the first epoch's
         # first batch: no steps before it
         "spectral_head": False}


def small(**kw):
    params = {**SMALL, **kw}
    model = params.get("model", "mlp")
    if (callable(model) or model == "linear") and "hidden_layer_sizes" not in kw:
        del params["hidden_layer_sizes"]  # no hidden layers of our making
    return DeepEntropyClustering(**params)


# ---------------------------------------------------------------------------
# 1. Bad input
# ---------------------------------------------------------------------------

def _with(value):
    def make(X):
        X = X.copy()
        X[3, 1] = value
        return X
    return make


BAD_INPUT = {
    "nan": (_with(np.nan), {}, "contains NaN"),
    "inf": (_with(np.inf), {}, "contains infinity"),
    "beyond-float32": (_with(1e300), {}, r"magnitude 1e\+300.*rescale X"),
    "no-samples": (lambda X: X[:0], {}, r"0 sample\(s\) \(shape=\(0, 4\)\)"),
    "no-features": (lambda X: X[:, :0], {}, r"0 feature\(s\) \(shape=\(60, 0\)\)"),
    "1-d": (lambda X: X[:, 0], {}, "Expected 2D array, got 1D array"),
    "fewer-samples-than-clusters": (lambda X: X[:5], {"n_clusters": 8},
                                    "n_samples=5 should be >= n_clusters=8"),
    "zero-clusters": (lambda X: X, {"n_clusters": 0},
                      "'n_clusters' parameter.*Got 0"),
    "strings": (lambda X: X.astype(str), {}, "strings"),
    "object-strings": (lambda X: np.full(X.shape, "a", dtype=object), {},
                       "could not convert string to float: 'a'"),
    "complex": (lambda X: X + 1j, {}, "Complex data not supported"),
    "image-shape-conv": (lambda X: X, {"model": "conv", "image_shape": (3, 3)},
                         r"image_shape=\(3, 3\) holds 9 values.*n_features=4"),
    "image-shape-unused": (lambda X: X, {"image_shape": (2, 3)},
                           r"image_shape=\(2, 3\) holds 6 values.*n_features=4"),
    "prior-length": (lambda X: X, {"cluster_prior": [1, 1]},
                     r"n_clusters=3.*cluster_prior=\[1, 1\]"),
    "prior-negative": (lambda X: X, {"cluster_prior": [1, -1, 1]},
                       r"non-negative.*cluster_prior=\[1, -1, 1\]"),
    "prior-all-zero": (lambda X: X, {"cluster_prior": [0, 0, 0]},
                       r"not all zero.*cluster_prior=\[0, 0, 0\]"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_raises_value_error_naming_it(X, case):
    make, params, match = BAD_INPUT[case]
    with pytest.raises(ValueError, match=match):
        small(**params).fit(make(X))


def test_wrong_number_of_features_at_predict(X):
    model = small().fit(X)
    for method in (model.predict, model.predict_proba, model.score):
        with pytest.raises(ValueError, match="X has 3 features.*expecting 4"):
            method(X[:, :3])


def test_values_beyond_float32_refused_at_predict(X):
    model = small().fit(X)
    with pytest.raises(ValueError, match="magnitude"):
        model.predict(X * 1e300)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_input_raises_type_error(X, fmt):
    with pytest.raises(TypeError, match="[Ss]parse"):
        small().fit(sp.random(60, 4, density=0.5, format=fmt, random_state=0))
    model = small().fit(X)
    with pytest.raises(TypeError, match="[Ss]parse"):
        model.predict(sp.csr_matrix(X))


def test_fit_docstring_says_sparse_is_rejected():
    doc = " ".join(DeepEntropyClustering.fit.__doc__.split())
    assert "Sparse matrices are rejected with a ``TypeError``" in doc


@no_cuda
def test_cuda_without_gpu_is_a_value_error_at_fit_not_construction(X):
    model = small(device="cuda")  # constructing stores the value, nothing more
    with pytest.raises(ValueError, match=r"device='cuda'.*no CUDA GPU"):
        model.fit(X)
    with pytest.raises(ValueError, match=r"device='cuda:1'"):
        small(device="cuda:1").fit(X)


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="this machine has MPS")
def test_unavailable_device_type_is_a_value_error(X):
    with pytest.raises(ValueError, match=r"device='mps'.*cannot use a 'mps'"):
        small(device="mps").fit(X)


def test_unknown_device_string_is_a_value_error(X):
    with pytest.raises(ValueError, match="device='gpu0'"):
        small(device="gpu0").fit(X)


def _duplicates(X):
    return np.repeat(X[:6], 10, axis=0)


EXTREME = {
    "huge-1e30": lambda X: X * 1e30,
    "huge-float32": lambda X: (X * 1e37).astype(np.float32),
    "tiny-1e-30": lambda X: X * 1e-30,
    "below-float32-1e-300": lambda X: X * 1e-300,
    "offset-1e8": lambda X: X + 1e8,
    "constant-column": lambda X: np.c_[X, np.full(len(X), 7.0)],
    "constant-data": lambda X: np.full_like(X, 3.0),
    "all-zero": lambda X: np.zeros_like(X),
    "duplicated-points": _duplicates,
    "uint8": lambda X: (X * 10 + 128).clip(0, 255).astype(np.uint8),
}


@pytest.mark.parametrize("case", list(EXTREME))
def test_extreme_but_valid_data_gives_finite_outputs(X, case):
    data = EXTREME[case](X)
    model = small().fit(data)
    proba = model.predict_proba(data)
    assert np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-9)
    assert np.all(np.isfinite([h["loss"] for h in model.history_]))
    assert np.isfinite(model.score(data)) and np.isfinite(model.objective_)
    assert set(np.unique(model.labels_)) <= set(range(3))


def test_input_scaler_statistics_are_stable_and_chunk_independent():
    rng = np.random.RandomState(0)
    noise = rng.normal(size=(5000, 3))
    # a large offset must not cancel the variance away (naive E[x²] - E[x]²)
    scaler = InputScaler.fit(1e8 + noise, chunk=512)
    assert scaler.scale == pytest.approx(noise.std(0).mean(), rel=1e-3)
    # near the top of float32's range (the largest magnitude X may hold)
    scaler = InputScaler.fit(noise * 1e37, chunk=512)
    assert scaler.scale == pytest.approx(1e37 * noise.std(0).mean(), rel=1e-3)
    # constant data: scale 1, never 0
    assert InputScaler.fit(np.full((10, 2), 5.0)).scale == 1.0
    # the result does not depend on the chunking
    a, b = InputScaler.fit(noise, chunk=7), InputScaler.fit(noise, chunk=10_000)
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-6)
    assert a.scale == pytest.approx(b.scale, rel=1e-12)


def test_read_only_memmap_is_used_in_place(X, tmp_path):
    data = X.astype(np.float32)
    path = tmp_path / "X.dat"
    np.memmap(path, dtype=np.float32, mode="w+", shape=data.shape)[:] = data
    ro = np.memmap(path, dtype=np.float32, mode="r", shape=data.shape)
    model = small()
    assert np.shares_memory(validate_data(model, ro, dtype="numeric"), ro)
    with warnings.catch_warnings():
        # batches are copied out of the memmap: torch never sees a read-only view
        warnings.filterwarnings("error", message=".*not writable.*")
        model.fit(ro)
        np.testing.assert_array_equal(model.predict(ro), model.labels_)
        np.testing.assert_array_equal(model.labels_, small().fit(data).labels_)
    np.testing.assert_array_equal(np.asarray(ro), data)


# ---------------------------------------------------------------------------
# 2. Faults during fit
# ---------------------------------------------------------------------------

class Faulty(torch.nn.Module):
    """A small network that misbehaves on its ``at``-th training-mode call.

    ``fault="interrupt"`` raises KeyboardInterrupt once (as Ctrl-C would);
    ``fault="nan"`` outputs NaN from that call on. Eval-mode calls (predict)
    are not counted.
    """

    def __init__(self, n_features, n_outputs, fault=None, at=1):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(n_features, 16),
                                        torch.nn.Tanh(),
                                        torch.nn.Linear(16, n_outputs))
        self.fault, self.at, self.calls = fault, at, 0

    def forward(self, x):
        out = self.body(x)
        if not self.training:
            return out
        self.calls += 1
        if self.fault == "interrupt" and self.calls == self.at:
            raise KeyboardInterrupt
        if self.fault == "nan" and self.calls >= self.at:
            return out * float("nan")
        return out


def faulty(fault, at):
    return lambda n_features, n_outputs: Faulty(n_features, n_outputs, fault, at)


def test_ctrl_c_ends_training_with_a_warning_and_a_usable_model(X):
    # 2 batches per epoch: the 6th training call is epoch 3's second batch
    model = small(model=faulty("interrupt", 6), max_iter=5)
    with pytest.warns(RuntimeWarning, match="interrupted at epoch 3"):
        model.fit(X)
    assert model.n_iter_ == 2 and len(model.history_) == 2
    proba = model.predict_proba(X)
    assert np.all(np.isfinite(proba)) and np.isfinite(model.objective_)
    np.testing.assert_array_equal(proba.argmax(1), model.labels_)


def test_ctrl_c_in_the_first_batch_still_leaves_a_fitted_model(X):
    model = small(model=faulty("interrupt", 1))
    with pytest.warns(RuntimeWarning, match="interrupted at epoch 1"):
        model.fit(X)
    assert model.n_iter_ == 0 and model.history_ == []
    assert model.predict(X).shape == (60,)


def test_ctrl_c_stops_the_remaining_restarts(X):
    builds = []

    def factory(n_features, n_outputs):
        builds.append(Faulty(n_features, n_outputs, "interrupt", 3))
        return builds[-1]

    with pytest.warns(RuntimeWarning, match="interrupted"):
        model = small(model=factory, n_init=3).fit(X)
    assert len(builds) == 1 and model.module_ is builds[0]


def test_non_finite_loss_names_the_epoch_and_what_to_change(X):
    model = small(model=faulty("nan", 3), max_iter=4)  # epoch 2, first batch
    with pytest.raises(FloatingPointError,
                       match="epoch 2.*lower learning_rate_init.*margin_weight"):
        model.fit(X)
    assert not hasattr(model, "module_")


def test_non_finite_loss_before_the_first_epoch_is_reported(X):
    # the started head's fit to the spectral labels: its third step
    model = small(model=faulty("nan", 3), spectral_head=True, n_heads=2, max_iter=4)
    with pytest.raises(FloatingPointError,
                       match="fitted to the spectral clustering .before epoch 1"):
        model.fit(X)
    assert not hasattr(model, "module_")


@pytest.mark.parametrize("model", ["linear", "mlp"])
def test_huge_learning_rate_fails_clearly(X, model):
    with pytest.raises(FloatingPointError, match="epoch 1.*lower learning_rate_init"):
        small(learning_rate_init=1e20, model=model).fit(X)


def test_diverged_restart_is_dropped_and_the_others_kept(X):
    builds = []

    def factory(n_features, n_outputs):
        fault = "nan" if not builds else None  # only the first restart diverges
        builds.append(Faulty(n_features, n_outputs, fault, 2))
        return builds[-1]

    model = small(model=factory, n_init=3)
    with pytest.warns(RuntimeWarning, match="restart diverged and was dropped"):
        model.fit(X)
    assert len(builds) == 3 and model.module_ in builds[1:]
    assert np.all(np.isfinite(model.predict_proba(X)))


def test_all_restarts_diverged_raises(X):
    model = small(model=faulty("nan", 1), n_init=2)
    with pytest.warns(RuntimeWarning, match="restart diverged"):
        with pytest.raises(FloatingPointError, match="All 2 restarts diverged"):
            model.fit(X)


def screened_factory(builds, diverging):
    """Networks that train normally while restarts are screened (2 epochs of
    2 batches) and output NaN once trained further: always when ``diverging``
    is "all", only the first network to go on when it is "first"."""
    went_on = []

    def factory(n_features, n_outputs):
        net = Faulty(n_features, n_outputs)
        forward = net.forward

        def guarded(x):
            if net.training and net.calls == 4:  # the screen is over
                went_on.append(net)
                if diverging == "all" or went_on[0] is net:
                    net.fault, net.at = "nan", 5
            return forward(x)
        net.forward = guarded
        builds.append(net)
        return net
    return factory


def test_a_screened_leader_that_diverges_hands_over_to_the_next(X):
    builds = []
    model = small(model=screened_factory(builds, "first"), n_init=3,
                  screen_epochs=2, max_iter=4)
    with pytest.warns(RuntimeWarning, match="lowest objective diverged"):
        model.fit(X)
    diverged = [net for net in builds if net.fault == "nan"]
    assert len(builds) == 3 and len(diverged) == 1
    assert model.module_ in builds and model.module_ is not diverged[0]
    assert model.n_iter_ == 4 and len(model.history_) == 4
    assert np.all(np.isfinite(model.predict_proba(X)))


def test_screened_restarts_that_all_diverge_raise(X):
    builds = []
    model = small(model=screened_factory(builds, "all"), n_init=2,
                  screen_epochs=2, max_iter=4)
    with pytest.warns(RuntimeWarning, match="lowest objective diverged"):
        with pytest.raises(FloatingPointError, match="All 2 restarts diverged"):
            model.fit(X)
    assert not hasattr(model, "module_")


def test_diverged_warm_start_keeps_the_fitted_model(X):
    model = small(model=faulty(None, 1), warm_start=True).fit(X)
    before = model.predict_proba(X)
    model.module_.fault, model.module_.at = "nan", model.module_.calls + 2
    with pytest.raises(FloatingPointError, match="epoch 1"):
        model.fit(X)
    model.module_.fault = None
    np.testing.assert_array_equal(model.predict_proba(X), before)


def test_warm_start_with_other_n_clusters_is_refused(X):
    model = small(warm_start=True).fit(X)
    model.set_params(n_clusters=4)
    with pytest.raises(ValueError, match="3 outputs, but n_clusters=4"):
        model.fit(X)


@pytest.mark.parametrize("data, params", [
    (lambda X: np.full_like(X, 2.0), {}),
    (lambda X: np.repeat(X[:2], 30, axis=0), {}),  # two distinct points
], ids=["constant-data", "two-distinct-points"])
def test_empty_clusters_warn_and_suggest_fairness_weight(X, data, params):
    with pytest.warns(ConvergenceWarning, match="increase fairness_weight"):
        small(**params).fit(data(X))


# ---------------------------------------------------------------------------
# 3. Persistence
# ---------------------------------------------------------------------------

def test_pickle_and_joblib_give_identical_predictions(X, tmp_path):
    model = small().fit(X)
    state = model.__getstate__()
    assert state["_pickle_format"] == PICKLE_FORMAT
    assert "module_" not in state and isinstance(state["_module_bytes"], bytes)
    joblib.dump(model, tmp_path / "model.joblib")
    for again in (pickle.loads(pickle.dumps(model)),
                  joblib.load(tmp_path / "model.joblib")):
        np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
        np.testing.assert_array_equal(again.labels_, model.labels_)
        assert again.score(X) == model.score(X)


def test_unfitted_estimator_round_trips():
    again = pickle.loads(pickle.dumps(small()))
    assert again.get_params() == small().get_params()


@pytest.mark.parametrize("found, match", [
    (PICKLE_FORMAT + 1, f"state format {PICKLE_FORMAT + 1}, but .* reads formats"),
    ("1", "state format '1'"),
    (None, "carries no state format"),
])
def test_unknown_or_missing_pickle_format_is_refused(X, found, match):
    model = small().fit(X)
    state = model.__getstate__()
    if found is None:
        del state["_pickle_format"]
    else:
        state["_pickle_format"] = found
    blob = pickle.dumps((DeepEntropyClustering, state))

    fresh = DeepEntropyClustering.__new__(DeepEntropyClustering)
    with pytest.raises(ValueError, match=match):
        fresh.__setstate__(pickle.loads(blob)[1])


def test_pickled_module_is_loaded_onto_the_cpu(X, monkeypatch):
    model = small().fit(X)
    blob = model.__getstate__()["_module_bytes"]
    # the bytes are a torch.save of the module, loadable on a CPU-only machine
    module = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=False)
    assert isinstance(module, torch.nn.Module)
    assert all(p.device.type == "cpu" for p in module.parameters())
    # unpickling always maps storages to the CPU, whatever device saved them
    seen = []
    real_load = torch.load

    def spy(*args, **kwargs):
        seen.append(kwargs.get("map_location"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    pickle.loads(pickle.dumps(model))
    assert seen == ["cpu"]


@no_cuda
def test_cuda_model_unpickled_without_gpu_predicts_on_cpu_with_warning(X):
    model = small().fit(X)
    expected = model.predict_proba(X)
    model.set_params(device="cuda")  # as if it had been fitted on a GPU
    loaded = pickle.loads(pickle.dumps(model))
    with pytest.warns(RuntimeWarning, match="device='cuda' is not available.*CPU"):
        proba = loaded.predict_proba(X)
    np.testing.assert_array_equal(proba, expected)


def test_warm_start_continues_after_a_pickle_round_trip(X):
    model = small(warm_start=True, max_iter=2).fit(X)
    module = model.module_
    model.fit(X)
    assert model.module_ is module and len(model.history_) == 4
    loaded = pickle.loads(pickle.dumps(model))
    weights = [p.detach().clone() for p in loaded.module_.parameters()]
    module = loaded.module_
    loaded.fit(X)
    assert loaded.module_ is module and len(loaded.history_) == 6
    assert any(not torch.equal(w, p) for w, p in zip(weights, module.parameters()))


# ---------------------------------------------------------------------------
# 4. Reproducibility
# ---------------------------------------------------------------------------

_CHILD = f"""
import hashlib, numpy as np
from sklearn.datasets import make_blobs
from skdeepcluster import DeepEntropyClustering
X, _ = make_blobs(n_samples=60, n_features=4, centers=3, random_state=0)
model = DeepEntropyClustering(**{SMALL!r}).fit(X)
proba = np.ascontiguousarray(model.predict_proba(X))
print(hashlib.sha256(model.labels_.astype(np.int64).tobytes()).hexdigest(),
      hashlib.sha256(proba.tobytes()).hexdigest())
"""


def test_same_int_seed_gives_identical_labels_in_two_processes(X):
    # run where this skdeepcluster is importable, installed or not
    root = Path(skdeepcluster.__file__).resolve().parents[1]
    outputs = [
        subprocess.run([sys.executable, "-c", _CHILD], capture_output=True,
                       text=True, check=True, timeout=120, cwd=root).stdout.split()
        for _ in range(2)
    ]
    assert outputs[0] == outputs[1]
    labels = small().fit(X).labels_.astype(np.int64)
    assert hashlib.sha256(labels.tobytes()).hexdigest() == outputs[0][0]


def _with_dropout(n_features, n_outputs):
    return torch.nn.Sequential(torch.nn.Linear(n_features, 16), torch.nn.ReLU(),
                               torch.nn.Dropout(0.5), torch.nn.Linear(16, n_outputs))


@pytest.mark.parametrize("random_state", [0, "RandomState", None])
def test_fit_leaves_global_random_state_alone(X, random_state):
    if random_state == "RandomState":
        random_state = np.random.RandomState(0)
    np.random.seed(123)
    torch.manual_seed(123)
    np_before, torch_before = np.random.get_state(), torch.random.get_rng_state()
    # dropout and layer initialisation draw from torch's default generator
    small(model=_with_dropout, random_state=random_state).fit(X)
    np_after = np.random.get_state()
    assert np_after[0] == np_before[0] and np_after[2:] == np_before[2:]
    np.testing.assert_array_equal(np_after[1], np_before[1])
    assert torch.equal(torch.random.get_rng_state(), torch_before)


def test_int_seed_reproducible_with_dropout_and_augmentation(X):
    a = small(model=_with_dropout, augment="noise").fit(X).predict_proba(X)
    b = small(model=_with_dropout, augment="noise").fit(X).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_reproducibility_is_documented():
    doc = " ".join(DeepEntropyClustering.__doc__.split())
    assert "**Reproducibility.**" in doc
    assert "torch.use_deterministic_algorithms(True)" in doc


def test_warnings_point_at_the_users_line(X):
    with pytest.warns(UserWarning, match="adversarial_radius=0.5 is ignored") as got:
        small(adversarial_radius=0.5).fit(X)
    assert got[0].filename == __file__


def test_meta_device_is_a_value_error(X):
    with pytest.raises(ValueError, match="device='meta'"):
        small(device="meta").fit(X)


def test_pickles_of_the_first_format_are_refused(X):
    state = small().fit(X).__getstate__()
    state["_pickle_format"] = 1  # parameters stored under their old names
    fresh = DeepEntropyClustering.__new__(DeepEntropyClustering)
    with pytest.raises(ValueError, match="state format 1, but .* reads formats 2"):
        fresh.__setstate__(state)
