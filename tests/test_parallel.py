"""Restarts as joblib tasks: ``n_jobs``, and the same fits on a Dask cluster."""

import logging

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.model_selection import GridSearchCV

from skdeepcluster import DeepEntropyClustering


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(n_samples=300, centers=3, random_state=0)[0]


def _same_fit(a, b):
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.objective_ == b.objective_ and a.n_iter_ == b.n_iter_
    untimed = [[{k: v for k, v in h.items() if k != "time"} for h in m.history_]
               for m in (a, b)]
    assert untimed[0] == untimed[1]
    for p, q in zip(a.module_.parameters(), b.module_.parameters()):
        assert torch.equal(p, q)


# (2, 3): three heads on 2-D blobs, the first started from the spectral
# clustering (screened while its start lasts)
@pytest.mark.parametrize("screen_epochs, n_heads", [(None, 1), (2, 1), (2, 3)])
def test_parallel_restarts_train_what_sequential_ones_do(blobs, one_torch_thread,
                                                         screen_epochs, n_heads):
    params = dict(n_clusters=3, n_init=3, n_heads=n_heads, max_iter=6,
                  batch_size=64, screen_epochs=screen_epochs, n_iter_no_change=0,
                  random_state=0)
    sequential = DeepEntropyClustering(**params).fit(blobs)
    parallel = DeepEntropyClustering(n_jobs=2, **params).fit(blobs)
    _same_fit(parallel, sequential)
    # joblib's context sets n_jobs=None the same way
    with joblib.parallel_config(n_jobs=2):
        _same_fit(DeepEntropyClustering(**params).fit(blobs), sequential)


def test_parallel_restarts_pickle_augmenters(blobs, one_torch_thread):
    # a run carries its augmenter back from the worker
    params = dict(n_clusters=3, n_init=2, max_iter=3, augment="noise",
                  random_state=1)
    _same_fit(DeepEntropyClustering(n_jobs=2, **params).fit(blobs),
              DeepEntropyClustering(**params).fit(blobs))


def test_a_diverging_parallel_restart_is_dropped(blobs, one_torch_thread):
    X = blobs.copy()
    params = dict(n_clusters=3, n_init=2, max_iter=3, learning_rate_init=1e30,
                  margin_weight=0.0, random_state=0)
    with pytest.raises(FloatingPointError, match="All 2 restarts diverged"):
        with pytest.warns(RuntimeWarning, match="diverged and was dropped"):
            DeepEntropyClustering(n_jobs=2, **params).fit(X)


def test_grid_search_on_a_dask_cluster_matches_one_process(blobs, one_torch_thread):
    distributed = pytest.importorskip(
        "distributed", reason="the Dask test needs dask.distributed "
        "(pip install 'skdeepcluster[tests]')")
    grid = {"fairness_weight": [1.0, 3.0], "hidden_layer_sizes": [(16,), (32,)]}
    base = DeepEntropyClustering(3, n_init=2, max_iter=10, batch_size=32,
                                 random_state=0)
    local = GridSearchCV(base, grid, cv=2).fit(blobs)
    restarts = DeepEntropyClustering(3, n_init=3, max_iter=5, n_jobs=2,
                                     random_state=2)
    sequential = clone(restarts).set_params(n_jobs=1).fit(blobs)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, silence_logs=logging.ERROR,
    ) as cluster, distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as stream:
            with joblib.parallel_config(backend="dask"):
                remote = GridSearchCV(base, grid, cv=2).fit(blobs)
                on_cluster = restarts.fit(blobs)  # its restarts as Dask tasks
    assert stream.data  # the folds ran as tasks on the cluster's workers
    _same_fit(on_cluster, sequential)
    assert remote.best_params_ == local.best_params_
    np.testing.assert_allclose(remote.cv_results_["mean_test_score"],
                               local.cv_results_["mean_test_score"])
    np.testing.assert_array_equal(remote.best_estimator_.labels_,
                                  local.best_estimator_.labels_)
