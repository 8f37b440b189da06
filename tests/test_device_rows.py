"""The training rows on the device: the same fit as streamed rows, and epochs
that wait for the device a fixed number of times, however many batches."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from skdeepcluster import DeepEntropyClustering
from skdeepcluster import pseudo_labels as pl
from skdeepcluster._data import DeviceRows, HostRows, InputScaler, batches, device_rows
from skdeepcluster.objectives import SelfLabeling

pytestmark = pytest.mark.filterwarnings(
    "ignore:Only .* clusters are non-empty:sklearn.exceptions.ConvergenceWarning")


class SyncFree(SelfLabeling):
    """The objective as it trains on a GPU: the y-step in a budget."""

    ystep_sync_free = True


class SyncFreeClustering(DeepEntropyClustering):
    objective_class = SyncFree


class Short(SyncFree):
    """A short budget, for tests that count calls, not iterations."""

    ystep_budget = 8


class ShortClustering(DeepEntropyClustering):
    objective_class = Short


def _blobs(n_samples, seed=0):
    X, _ = make_blobs(n_samples=n_samples, centers=4, n_features=8,
                      random_state=seed)
    return X.astype(np.float32)


def test_device_rows_draw_the_streamed_batches():
    X = _blobs(103)
    neighbors = np.random.default_rng(0).integers(0, 103, (103, 5))
    host = HostRows(X, neighbors, torch.device("cpu"))
    rows = DeviceRows(torch.device("cpu")).on(X, neighbors)
    a, b = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    streamed = list(host.batches(16, a))
    resident = list(rows.batches(16, b))
    assert len(streamed) == len(resident) == 103 // 16
    for s, r in zip(streamed, resident):
        np.testing.assert_array_equal(s, r.numpy())
        torch.testing.assert_close(host.take(s), rows.take(r))
        pick = torch.randint(5, (len(s),), generator=torch.Generator().manual_seed(1))
        np.testing.assert_array_equal(host.neighbor(s, pick),
                                      rows.neighbor(r, pick).numpy())
    # the streamed batches are those of the loop's own function
    again = batches(103, 16, torch.Generator().manual_seed(4))
    for s, t in zip(streamed, again):
        np.testing.assert_array_equal(s, t)


def test_which_rows_go_to_the_device(tmp_path):
    cpu = torch.device("cpu")
    X = _blobs(50)
    assert isinstance(device_rows(X, None, cpu), DeviceRows)
    assert isinstance(device_rows(X.astype(np.float64), None, cpu), DeviceRows)
    path = tmp_path / "X.dat"
    np.memmap(path, dtype=np.float32, mode="w+", shape=X.shape)[:] = X
    memmap = np.memmap(path, dtype=np.float32, mode="r", shape=X.shape)
    assert device_rows(memmap, None, cpu) is None  # read batch by batch
    # a float32 C-ordered array, read-only too, is used in place
    X.flags.writeable = False
    rows = DeviceRows(cpu).on(X, None)
    assert rows._X.data_ptr() == X.__array_interface__["data"][0]


def test_device_rows_pickle_without_the_data():
    X = _blobs(2000)
    rows = DeviceRows(torch.device("cpu")).on(X, None)
    blob = pickle.dumps(rows)
    assert len(blob) < 1000
    back = pickle.loads(blob).on(X, None)
    torch.testing.assert_close(back.take(torch.arange(5)), torch.from_numpy(X[:5]))


def test_resident_and_streamed_rows_give_the_same_fit(tmp_path):
    X = _blobs(300)
    path = tmp_path / "X.dat"
    np.memmap(path, dtype=np.float32, mode="w+", shape=X.shape)[:] = X
    memmap = np.memmap(path, dtype=np.float32, mode="r", shape=X.shape)
    params = dict(n_clusters=4, n_init=2, max_iter=6, random_state=0,
                  adversarial_weight=0.5)
    resident = DeepEntropyClustering(**params).fit(X)
    streamed = DeepEntropyClustering(**params).fit(memmap)
    np.testing.assert_array_equal(resident.labels_, streamed.labels_)
    def untimed(history):
        return [{k: v for k, v in entry.items() if k != "time"} for entry in history]

    assert untimed(resident.history_) == untimed(streamed.history_)


def _syncs_of_one_epoch(counter_class, X, estimator=ShortClustering, **params):
    """The synchronising calls of a fit's third epoch: those of a 3-epoch
    fit less those of the same fit stopped after 2."""
    counts = []
    for epochs in (2, 3):
        model = estimator(n_clusters=4, n_init=1, max_iter=epochs,
                                   n_iter_no_change=0, batch_size=32,
                                   random_state=0, **params)
        counter = counter_class()
        with counter:
            model.fit(X)
        counts.append(counter.count)
    return counts[1] - counts[0]


@pytest.mark.parametrize("params", [{"n_heads": 3},
                                    {"n_heads": 1, "augment": "noise"},
                                    {"n_heads": 2, "adversarial_weight": 0.5}])
def test_an_epoch_waits_for_the_device_as_often_however_many_batches(
        synchronising_calls, params):
    # 4 batches of 32 rows against 16: the same number of waits per epoch
    few = _syncs_of_one_epoch(synchronising_calls, _blobs(128), **params)
    many = _syncs_of_one_epoch(synchronising_calls, _blobs(512), **params)
    assert few == many
    assert 0 < few <= 6 * params["n_heads"] + 4  # a handful per head


def test_the_host_y_step_waits_per_batch(synchronising_calls):
    # the contrast that makes the test above meaningful: the CPU's y-step,
    # which tests its stopping rule at every iteration
    few = _syncs_of_one_epoch(synchronising_calls, _blobs(128),
                              DeepEntropyClustering, n_heads=3)
    many = _syncs_of_one_epoch(synchronising_calls, _blobs(512),
                               DeepEntropyClustering, n_heads=3)
    assert few >= 128 // 32 and many >= 512 // 32  # at least one per batch


def test_streamed_rows_read_a_memmap_batch_by_batch(tmp_path):
    X = _blobs(256)
    path = tmp_path / "X.dat"
    np.memmap(path, dtype=np.float32, mode="w+", shape=X.shape)[:] = X
    memmap = np.memmap(path, dtype=np.float32, mode="r", shape=X.shape)
    model = DeepEntropyClustering(n_clusters=4)
    validated = model._validate_X(memmap, reset=True)
    assert device_rows(validated, None, torch.device("cpu")) is None


@pytest.mark.parametrize("loss", ["collision", "reverse"])
@pytest.mark.parametrize("lam", [0.0, 1.0])
def test_budgeted_y_step_is_the_tested_em_and_says_when_it_missed(loss, lam):
    gen = torch.Generator().manual_seed(0)
    probs = torch.softmax(3 * torch.randn(256, 10, generator=gen,
                                          dtype=torch.float64), 1)
    u = torch.full((10,), 0.1, dtype=torch.float64)
    for n_iter in (1, 4, 40):
        y, missed = pl.solve_in_budget(probs, loss, lam, u, n_iter, 1e-3)
        # what the CPU's EM returns, stopping when it certifies the tolerance
        ref, _ = pl._em(probs, None, loss, lam, u, n_iter, 1e-3, sync_free=False)
        torch.testing.assert_close(y, ref, rtol=1e-9, atol=1e-12)
        # the flags: whether that EM would still go on after half and all of it
        for slot, budget in enumerate((max(1, n_iter // 2), n_iter)):
            _, stop = pl._em(probs, None, loss, lam, u, budget + 1, 1e-3,
                             sync_free=False)
            assert bool(missed[slot]) == (stop > budget)
    # a long budget certifies, a single iteration does not, with fairness
    assert pl.solve_in_budget(probs, loss, 1.0, u, 100, 1e-3)[1].tolist() == [0, 0]
    assert pl.solve_in_budget(probs, loss, 1.0, u, 1, 1e-8)[1].tolist() == [1, 1]


class Sixteen(SyncFree):
    ystep_budget, ystep_miss_share = 16, 0.05


def _objective(cls, X):
    return cls(X, torch.nn.Linear(8, 4), InputScaler.fit(X), torch.device("cpu"),
               loss="collision", fairness_weight=1.0, prior=None,
               margin_weight=0.0, neighbors=None, augmenter=None,
               generator=torch.Generator().manual_seed(0))


def test_the_budget_follows_the_misses():
    X = _blobs(512)
    obj = _objective(Sixteen, X)
    assert obj.ystep_sync_free and obj._budget == 16
    obj._misses, obj._solves = torch.tensor([3.0, 2.0]), 10  # 20% missed
    obj._next_budget()
    assert obj._budget == 32
    obj._misses, obj._solves = torch.tensor([0.0, 0.0]), 10
    obj._next_budget()
    assert obj._budget == 16
    obj._misses, obj._solves = torch.tensor([1.0, 0.0]), 10  # half missed once
    obj._next_budget()
    assert obj._budget == 16
    obj._misses, obj._solves = torch.tensor([1.0, 0.0]), 100  # within the share
    obj._next_budget()
    assert obj._budget == 16
    for _ in range(10):
        obj._misses, obj._solves = torch.tensor([0.0, 0.0]), 10
        obj._next_budget()
    assert obj._budget == Sixteen.ystep_min_budget
    for _ in range(10):
        obj._misses, obj._solves = torch.tensor([10.0, 10.0]), 10
        obj._next_budget()
    assert obj._budget == pl.MAX_ITER
    # the defaults: the solver's cap at first, doubled at a single miss
    default = _objective(SyncFree, X)
    assert default._budget == pl.MAX_ITER
    default._misses, default._solves = torch.tensor([0.0, 0.0]), 10
    default._next_budget()
    default._misses, default._solves = torch.tensor([1.0, 1.0]), 1000
    default._next_budget()
    assert default._budget == pl.MAX_ITER
    # the objective that ranks runs is solved to its tolerance, not in budget
    assert obj._misses is None
    obj.objective_value(torch.randn(64, 4))
    assert obj._misses is None and obj._solves == 0


def test_sync_free_fit_clusters_as_the_host_fit():
    X, y = make_blobs(n_samples=600, centers=4, n_features=8, random_state=2)
    params = dict(n_clusters=4, n_init=1, n_heads=1, max_iter=20, random_state=0)
    host = DeepEntropyClustering(**params).fit(X)
    free = SyncFreeClustering(**params).fit(X)
    assert adjusted_rand_score(y, free.labels_) > 0.95
    assert adjusted_rand_score(host.labels_, free.labels_) > 0.95
