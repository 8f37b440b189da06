"""Data-parallel fits with torch.distributed: processes on the loopback
(gloo) train one network as one process holding all their rows would."""

import os
import pickle
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist

import skdeepcluster._estimator as estimator_module
from skdeepcluster import DeepEntropyClustering
from skdeepcluster._distributed import Shard, synced_batch_norm

sys.path.insert(0, str(Path(__file__).parent))
import distributed_script  # noqa: E402

SCRIPT = str(Path(__file__).parent / "distributed_script.py")

pytestmark = pytest.mark.skipif(not dist.is_available() or not
                                dist.is_gloo_available(),
                                reason="needs torch.distributed with gloo")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(tmp_path, case, n_processes=2, timeout=240):
    """Run the script's ``case`` on ``n_processes`` processes under torchrun;
    return each process's fitted model."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={n_processes}", SCRIPT, str(tmp_path), case]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    models = []
    for rank in range(n_processes):
        with open(tmp_path / f"rank{rank}.pkl", "rb") as f:
            models.append(pickle.load(f))
    return models


def _untimed(history):
    return [{k: v for k, v in epoch.items() if k != "time"} for epoch in history]


def _same_network(a, b):
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(x, y), name


def test_two_processes_follow_one(tmp_path, monkeypatch, one_torch_thread):
    """Two processes with 300 rows each train the network one process trains
    on all 600 with the same global batches of 64 (and the same neighbour
    lists: each process searches its own rows), to float tolerance, and
    agree exactly with each other."""
    models = _torchrun(tmp_path, "fit")
    _same_network(models[0].module_, models[1].module_)
    assert _untimed(models[0].history_) == _untimed(models[1].history_)
    assert models[0].objective_ == models[1].objective_

    X = distributed_script.data()
    parts = distributed_script.shards(len(X), 2)
    search = estimator_module.nearest_neighbors

    def within_shards(X, n_neighbors, scaler, generator):
        seed = generator.initial_seed()
        return np.concatenate([
            search(X[p], n_neighbors, scaler, torch.Generator().manual_seed(seed))
            + p[0] for p in parts])

    monkeypatch.setattr(estimator_module, "nearest_neighbors", within_shards)
    # a data-parallel fit has no spectral start (each process holds its own
    # rows' neighbour lists): the one process trains without it too
    one = DeepEntropyClustering(**distributed_script.PARAMS,
                                spectral_head=False).fit(X)

    assert len(one.history_) == len(models[0].history_) == 3
    for mine, theirs in zip(one.history_, models[0].history_):
        assert theirs["loss"] == pytest.approx(mine["loss"], rel=1e-4)
        assert theirs["score"] == pytest.approx(mine["score"], rel=1e-4)
        assert theirs["cluster_sizes"] == mine["cluster_sizes"]
    assert models[0].objective_ == pytest.approx(one.objective_, rel=1e-3)
    np.testing.assert_array_equal(
        np.concatenate([m.labels_ for m in models]), one.labels_)
    np.testing.assert_allclose(models[0].predict_proba(X), one.predict_proba(X),
                               atol=1e-3)
    # the weights after BatchNorm follow to float tolerance (a bias just
    # before BatchNorm has no gradient but rounding noise, which Adam
    # turns into steps, so it and the running mean that tracks it do not)
    for name, mine in one.module_.state_dict().items():
        if name.endswith("weight") or name.endswith("running_var"):
            theirs = models[0].module_.state_dict()[name]
            torch.testing.assert_close(theirs, mine, atol=1e-5, rtol=1e-4)


def test_batches_without_rows_of_a_process(tmp_path):
    """Global batches of 4 rows often hold none of a process's rows; that
    process still takes part and the fit stays finite and in step. Its
    subclusters are joined on the graph of both processes' lists: the same
    clusters on both."""
    models = _torchrun(tmp_path, "tiny-batches")
    _same_network(models[0].module_, models[1].module_)
    assert np.isfinite(models[0].history_[0]["loss"])
    assert sum(models[0].history_[0]["cluster_sizes"]) == 600
    assert models[0].subcluster_map_.shape == (8,)
    np.testing.assert_array_equal(models[0].subcluster_map_,
                                  models[1].subcluster_map_)


def _start_processes(tmp_path, case, n_processes=2):
    """The script's ``case`` on ``n_processes`` processes started here (the
    environment torchrun would set), without waiting for them."""
    port = _free_port()
    procs = []
    for rank in range(n_processes):
        env = {**os.environ, "RANK": str(rank), "WORLD_SIZE": str(n_processes),
               "LOCAL_RANK": str(rank), "MASTER_ADDR": "127.0.0.1",
               "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1"}
        procs.append(subprocess.Popen(
            [sys.executable, SCRIPT, str(tmp_path), case], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return procs


def test_a_process_that_dies_is_reported(tmp_path):
    """When one process ends mid-fit the other stops with an error that says
    so, instead of waiting for it."""
    procs = _start_processes(tmp_path, "die")
    start = time.monotonic()
    outs = [p.communicate(timeout=180) for p in procs]
    assert time.monotonic() - start < 180
    assert procs[1].returncode == 7
    assert procs[0].returncode != 0
    assert "Process 0 of 2 lost the other processes" in outs[0][1]


@pytest.fixture(scope="module")
def one_process_group():
    """A process group of this process alone (gloo on the loopback)."""
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{_free_port()}",
                            rank=0, world_size=1)
    yield
    dist.destroy_process_group()


@pytest.mark.parametrize("layer, shape", [(torch.nn.BatchNorm1d(5), (32, 5)),
                                          (torch.nn.BatchNorm2d(3), (8, 3, 4, 4))])
def test_synced_batch_norm_is_batch_norm(one_process_group, layer, shape):
    """Over the processes' rows, the synced layer computes what BatchNorm
    computes on them: outputs, gradients and running statistics."""
    torch.manual_seed(0)
    x = torch.randn(shape) * 3 + 1
    twin = pickle.loads(pickle.dumps(layer))
    with torch.no_grad():
        layer.weight.uniform_(0.5, 1.5)
        layer.bias.uniform_(-1, 1)
        twin.load_state_dict(layer.state_dict())
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    with synced_batch_norm(layer, Shard(len(x))):
        out = layer(a)
    expected = twin(b)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    weights = torch.randn(shape)
    (out * weights).sum().backward()
    (expected * weights).sum().backward()
    torch.testing.assert_close(a.grad, b.grad, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(layer.weight.grad, twin.weight.grad)
    for name, value in twin.state_dict().items():
        torch.testing.assert_close(layer.state_dict()[name], value)
    assert "forward" not in vars(layer)  # a plain layer again


@pytest.mark.parametrize("n_heads, n_subclusters", [(1, None), (3, None), (2, 8)])
def test_one_process_group_follows_plain_fit(one_process_group, one_torch_thread,
                                             n_heads, n_subclusters):
    """distributed=True in a group of one process trains the plain fit's
    network without the spectral start, to float tolerance (and joins its
    subclusters alike), and the fitted model pickles."""
    X = distributed_script.data()
    params = dict(distributed_script.PARAMS, fairness_weight=2.0, n_heads=n_heads,
                  n_subclusters=n_subclusters)
    plain = DeepEntropyClustering(**params, spectral_head=False).fit(X)
    model = DeepEntropyClustering(distributed=True, **params).fit(X)
    for mine, theirs in zip(plain.history_, model.history_):
        assert theirs["loss"] == pytest.approx(mine["loss"], rel=1e-4)
    np.testing.assert_array_equal(model.labels_, plain.labels_)
    np.testing.assert_array_equal(model.subcluster_map_, plain.subcluster_map_)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))


def test_distributed_does_not_take_n_jobs():
    with pytest.raises(ValueError, match="does not support n_jobs=2"):
        DeepEntropyClustering(4, distributed=True, n_jobs=2).fit(
            distributed_script.data())


def test_distributed_without_a_process_group(monkeypatch):
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="torchrun"):
        DeepEntropyClustering(4, distributed=True).fit(distributed_script.data())


def test_a_shard_does_not_pickle(one_process_group):
    with pytest.raises(TypeError, match="does not pickle"):
        pickle.dumps(Shard(10))


def _saved_state(path):
    """Process 0's state in the checkpoint at ``path`` (None while there is
    none)."""
    try:
        with open(path, "rb") as f:
            blob = pickle.load(f)["states"][0]
    except (FileNotFoundError, EOFError, pickle.UnpicklingError):
        return None
    return pickle.loads(blob)


def _leader_trained_on(state):
    screen = distributed_script.RESUMABLE["screen_epochs"]
    return (state is not None and state.handled == 2
            and max(run.n_iter for run in state.runs) > screen + 1)


def test_killed_fit_resumes_from_its_checkpoint(tmp_path):
    """Both processes of a data-parallel fit are killed while the best
    screened restart trains on; two new processes resume from the one
    checkpoint the first process wrote, to the result of a fit never
    interrupted."""
    path = tmp_path / "fit.ckpt"
    procs = _start_processes(tmp_path, "resumable")
    deadline = time.monotonic() + 180
    try:
        while not _leader_trained_on(_saved_state(path)):
            assert all(p.poll() is None for p in procs), "the fit ended first"
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        for p in procs:
            p.kill()
            p.communicate()
    saved = _saved_state(path)
    leader = max(saved.runs, key=lambda run: run.n_iter)
    resumed = _torchrun(tmp_path, "resumable")
    assert not path.exists()  # removed once the fit completed
    # the epochs the checkpoint held were not trained again: their records,
    # wall times included, are those of the killed processes
    # (the statistics of the epochs are the kept head's, set when it is kept)
    def timed(history):
        return [(epoch["time"], epoch["loss"]) for epoch in history]

    assert timed(resumed[0].history_[: leader.n_iter]) == timed(leader.history)
    (tmp_path / "plain").mkdir()
    uninterrupted = _torchrun(tmp_path / "plain", "uninterrupted")
    for a, b in zip(resumed, uninterrupted):
        np.testing.assert_array_equal(a.labels_, b.labels_)
        assert _untimed(a.history_) == _untimed(b.history_)
        assert a.objective_ == b.objective_
        _same_network(a.module_, b.module_)
