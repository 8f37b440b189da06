"""Checkpoints: a fit killed part-way is resumed by a new process to the
result of a fit that was never interrupted."""

import pickle
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs

from skdeepcluster import DeepEntropyClustering

PARAMS = dict(n_clusters=3, n_init=2, screen_epochs=3, max_iter=40, batch_size=32,
              n_iter_no_change=0, checkpoint_every=1, random_state=0)

SCRIPT = """
import torch
from sklearn.datasets import make_blobs
from skdeepcluster import DeepEntropyClustering
torch.set_num_threads(1)
X = make_blobs(n_samples=300, centers=3, random_state=0)[0]
DeepEntropyClustering(checkpoint_path={path!r}, **{params!r}).fit(X)
"""


def _blobs():
    return make_blobs(n_samples=300, centers=3, random_state=0)[0]


def _stage(path):
    """(seeds handled, whether a restart is being screened) of the checkpoint
    at ``path``, or None while there is none."""
    try:
        with open(path, "rb") as f:
            state = pickle.loads(pickle.load(f)["state"])
    except (FileNotFoundError, EOFError, pickle.UnpicklingError):
        return None
    return state.handled, state.current is not None


def _kill_fit_at(path, stage, params=PARAMS, timeout=120):
    """Run a fit in another process and kill it once its checkpoint reaches
    ``stage``: "screening" (the first restart part-way through its screen)
    or "leader" (every restart screened, the best being trained on)."""
    script = SCRIPT.format(path=str(path), params=params)
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)])
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            found = _stage(path)
            if found is not None and (
                    (stage == "screening" and found[1])
                    or (stage == "leader" and found[0] == params["n_init"])):
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the fit ended before it could be killed"
    finally:
        proc.kill()
        proc.wait()
    assert path.exists()


@pytest.mark.parametrize("stage, n_jobs, n_heads", [
    # two heads on 2-D data: the first starts from the spectral clustering,
    # which the checkpoint holds, as it does the epochs done
    ("screening", 1, 2), ("leader", 1, 1), ("screening", 2, 1)])
def test_a_killed_fit_resumes_to_the_uninterrupted_result(tmp_path, one_torch_thread,
                                                          stage, n_jobs, n_heads):
    path = tmp_path / "fit.ckpt"
    params = {**PARAMS, "n_heads": n_heads}
    _kill_fit_at(path, stage, params)
    X = _blobs()
    # n_jobs=2: the restart left part-way is trained anew from its seed
    resumed = DeepEntropyClustering(checkpoint_path=path, n_jobs=n_jobs,
                                    **params).fit(X)
    assert not path.exists()  # removed once the fit completed
    whole = DeepEntropyClustering(**params).fit(X)
    np.testing.assert_array_equal(resumed.labels_, whole.labels_)
    assert resumed.objective_ == whole.objective_
    assert resumed.n_iter_ == whole.n_iter_ == PARAMS["max_iter"]
    untimed = [[{k: v for k, v in h.items() if k != "time"} for h in m.history_]
               for m in (resumed, whole)]
    assert untimed[0] == untimed[1]
    for p, q in zip(resumed.module_.parameters(), whole.module_.parameters()):
        assert torch.equal(p, q)


def test_a_checkpoint_of_another_fit_is_refused(tmp_path):
    path = tmp_path / "fit.ckpt"
    _kill_fit_at(path, "screening")
    X = _blobs()
    other = {**PARAMS, "fairness_weight": 2.0}
    with pytest.raises(ValueError, match="other parameters or other data"):
        DeepEntropyClustering(checkpoint_path=path, **other).fit(X)
    with pytest.raises(ValueError, match="other parameters or other data"):
        DeepEntropyClustering(checkpoint_path=path, **PARAMS).fit(X[:-1])
    assert path.exists()  # left for the fit it belongs to
    path.write_bytes(pickle.dumps({"format": -1}))
    with pytest.raises(ValueError, match="not a checkpoint of this"):
        DeepEntropyClustering(checkpoint_path=path, **PARAMS).fit(X)


@pytest.mark.parametrize("n_jobs, augment, n_heads",
                         [(1, None, 1), (2, None, 1), (1, "noise", 1), (1, None, 3)])
def test_checkpoints_change_nothing_in_a_fit(tmp_path, one_torch_thread, n_jobs,
                                             augment, n_heads):
    X = _blobs()
    # augment: a run's perturbation goes into the checkpoint's plain pickle
    params = {**PARAMS, "max_iter": 8, "n_jobs": n_jobs, "augment": augment,
              "n_heads": n_heads}
    path = tmp_path / "fit.ckpt"
    with_checkpoints = DeepEntropyClustering(checkpoint_path=path, **params).fit(X)
    assert not path.exists()
    plain = DeepEntropyClustering(**params).fit(X)
    np.testing.assert_array_equal(with_checkpoints.labels_, plain.labels_)
    assert with_checkpoints.objective_ == plain.objective_


def test_a_warm_start_ignores_the_checkpoint(tmp_path):
    X = _blobs()
    model = DeepEntropyClustering(3, n_init=1, max_iter=5, batch_size=32,
                                  warm_start=True, random_state=0).fit(X)
    model.set_params(checkpoint_path=tmp_path / "fit.ckpt")
    with pytest.warns(UserWarning, match="checkpoint_path is ignored"):
        model.fit(X)
    assert not (tmp_path / "fit.ckpt").exists()


def _local_noise(x, generator):
    return x + 0.1 * torch.randn(x.shape, generator=generator)


def test_a_checkpoint_needs_parts_that_pickle(tmp_path):
    def local(x, generator):  # not importable by name: plain pickle refuses it
        return _local_noise(x, generator)

    path = tmp_path / "fit.ckpt"
    model = DeepEntropyClustering(checkpoint_path=path, augment=local,
                                  **{**PARAMS, "max_iter": 2})
    with pytest.raises(ValueError, match="module-level function"):
        model.fit(_blobs())
    assert not path.exists()
    assert not path.with_name(path.name + ".partial").exists()


def test_the_checkpoint_key_names_callables_and_numbers_stably():
    from functools import partial

    from skdeepcluster._estimator import _key_value

    assert _key_value(np.float64(2.0)) == _key_value(2.0)
    assert (_key_value(partial(_local_noise, scale=0.5))
            != _key_value(partial(_local_noise, scale=0.1)))
    assert _key_value(_local_noise) == f"{__name__}._local_noise"
