"""The first head's start from the spectral clustering of the neighbour graph
(``spectral_head``)."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs, make_circles, make_moons
from sklearn.metrics import adjusted_rand_score

from skdeepcluster import DeepEntropyClustering
from skdeepcluster._data import InputScaler
from skdeepcluster._estimator import _SPECTRAL_MAX_ROWS
from skdeepcluster._neighbors import nearest_neighbors, neighbor_graph, spectral_labels
from skdeepcluster._networks import MultiHead, build_mlp
from skdeepcluster.datasets import make_toy_datasets
from skdeepcluster.metrics import clustering_accuracy
from skdeepcluster.objectives import SelfLabeling


def _neighbors(X, k=10):
    return nearest_neighbors(X, k, InputScaler.fit(X), torch.Generator().manual_seed(0))


def _unequal_blobs():
    """Three well-separated blobs of 400, 100 and 30 points."""
    return make_blobs(n_samples=[400, 100, 30], centers=[[0, 0], [6, 6], [-6, 6]],
                      random_state=0)


def test_the_spectral_clustering_separates_rings():
    X, y = make_circles(400, factor=0.4, noise=0.03, random_state=0)
    labels = spectral_labels(_neighbors(X), 2, seed=0)
    assert clustering_accuracy(y, labels) == 1.0


def test_a_graph_in_pieces_is_clustered_quietly():
    X, y = _unequal_blobs()
    neighbors = _neighbors(X)
    # no edge joins two blobs: the graph is in three pieces
    W = neighbor_graph(neighbors)
    assert not np.any(W[np.ix_(y == 0, y != 0)].toarray())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        labels = spectral_labels(neighbors, 3, seed=0)
    assert clustering_accuracy(y, labels) == 1.0


def test_neighbor_graph_is_the_symmetric_count_of_listed_pairs():
    neighbors = np.array([[1], [0], [0]])
    W = neighbor_graph(neighbors).toarray()
    np.testing.assert_array_equal(W, [[0, 2, 1], [2, 0, 0], [1, 0, 0]])


def _objective(X, start_labels, start_prior, n_heads=2, hidden=(8,)):
    torch.manual_seed(0)
    module = MultiHead(build_mlp(X.shape[1], 3, hidden), n_heads)
    return SelfLabeling(
        X.astype(np.float32), module, InputScaler.fit(X), torch.device("cpu"),
        loss="collision", fairness_weight=1.0, prior=None, margin_weight=0.0,
        neighbors=_neighbors(X), augmenter=None,
        generator=torch.Generator().manual_seed(0),
        start_labels=start_labels, start_prior=start_prior)


def test_the_first_head_trains_towards_the_start_labels_then_self_labels():
    X, _ = _unequal_blobs()
    # labels that no y-step would give: the first head's targets are these
    start = np.random.default_rng(0).integers(0, 3, len(X))
    objective = _objective(X, start, [0.2, 0.3, 0.5])
    idx = np.arange(0, len(X), 3)
    _, stats = objective(idx)
    np.testing.assert_array_equal(stats[0]["labels"].numpy(), start[idx])
    assert not np.array_equal(stats[1]["labels"].numpy(), start[idx])
    # each head pulls towards its own prior
    np.testing.assert_allclose(objective.proportions(3), [0.2, 0.3, 0.5])
    with objective._on_head(1):
        np.testing.assert_allclose(objective.proportions(3), [1 / 3] * 3)
    objective.epochs_done = objective.start_epochs  # the start is over
    _, stats = objective(idx)
    assert not np.array_equal(stats[0]["labels"].numpy(), start[idx])


class _CountingAdam(torch.optim.Adam):
    steps = 0

    def step(self, closure=None):
        self.steps += 1
        return super().step(closure)


def test_the_start_fits_the_first_head_to_the_start_labels():
    X, y = make_moons(300, noise=0.05, random_state=0)
    objective = _objective(X, y, None, hidden=(64, 64))
    first = objective.module(objective.view(torch.as_tensor(X, dtype=torch.float32)))[0]
    assert clustering_accuracy(y, first.argmax(1).numpy()) < 0.95
    optimizer = _CountingAdam(objective.module.parameters(), lr=1e-3)
    # 300 rows are 4 batches of 64: 3 epochs' passes are 12 steps
    objective.start(optimizer, torch.Generator().manual_seed(0), 3)
    assert optimizer.steps == 12
    optimizer.steps = 0
    objective.start(optimizer, torch.Generator().manual_seed(0), 100)
    assert optimizer.steps == SelfLabeling.start_steps
    first = objective.module(objective.view(torch.as_tensor(X, dtype=torch.float32)))[0]
    # the curved boundary between the moons, not a straight cut
    assert np.mean(first.argmax(1).numpy() == y) >= 0.99
    # without start labels there is nothing to take
    optimizer.steps = 0
    _objective(X, None, None).start(optimizer, torch.Generator(), 100)
    assert optimizer.steps == 0


def test_moons_are_found_on_seeds_that_lost_them(one_torch_thread):
    # the toy panel's moons; before the start was fitted first, seeds 8 and
    # 9 split them into tips against arcs (ARI 0.09 and 0.11, KMeans 0.47)
    X, y = make_toy_datasets(500, random_state=0)["moons"]
    for seed in (8, 9):
        labels = DeepEntropyClustering(2, random_state=seed).fit_predict(X)
        assert adjusted_rand_score(y, labels) >= 0.95


def test_start_labels_are_refused_in_a_data_parallel_fit():
    X, _ = _unequal_blobs()
    with pytest.raises(ValueError, match="not supported in a data-parallel"):
        SelfLabeling(X, MultiHead(build_mlp(2, 3, (8,)), 2), InputScaler.fit(X),
                     torch.device("cpu"), loss="collision", fairness_weight=1.0,
                     prior=None, margin_weight=0.0, neighbors=None, augmenter=None,
                     generator=torch.Generator(), shard=object(),
                     start_labels=np.zeros(len(X), dtype=int))


def test_clusters_of_unequal_sizes_are_found(one_torch_thread):
    X, y = _unequal_blobs()
    model = DeepEntropyClustering(3, random_state=0).fit(X)
    assert clustering_accuracy(y, model.labels_) >= 0.98
    sizes = np.sort(np.bincount(model.labels_, minlength=3))
    np.testing.assert_allclose(sizes, [30, 100, 400], rtol=0.05)
    # the kept head's prior is the spectral clustering's proportions, mixed
    # with the uniform distribution
    mix = SelfLabeling.prior_shrink
    np.testing.assert_allclose(np.sort(model.cluster_prior_),
                               (1 - mix) * np.array([30, 100, 400]) / 530 + mix / 3)
    # without the spectral start, the uniform prior splits the big blob
    balanced = DeepEntropyClustering(3, spectral_head=False, random_state=0).fit(X)
    assert clustering_accuracy(y, balanced.labels_) < 0.9


def test_a_prior_of_the_user_holds_for_the_first_head_too(one_torch_thread):
    X, _ = _unequal_blobs()
    prior = [0.5, 0.25, 0.25]
    model = DeepEntropyClustering(3, cluster_prior=prior, max_iter=3,
                                  random_state=0).fit(X)
    assert model._spectral_start(X.shape)
    # the started head gets no prior of its own: the user's holds for all
    assert model._start_prior(np.array([0, 0, 1, 2])) is None
    np.testing.assert_allclose(model.cluster_prior_, prior)
    unset = DeepEntropyClustering(3)
    unset._check_params_vs_input(X)
    np.testing.assert_allclose(unset._start_prior(np.array([0, 0, 1, 2])),
                               0.9 * np.array([0.5, 0.25, 0.25]) + 0.1 / 3)


def test_a_network_of_one_head_ignores_start_labels():
    X, _ = _unequal_blobs()
    objective = SelfLabeling(
        X.astype(np.float32), build_mlp(2, 3, (8,)), InputScaler.fit(X),
        torch.device("cpu"), loss="collision", fairness_weight=1.0, prior=None,
        margin_weight=0.0, neighbors=_neighbors(X), augmenter=None,
        generator=torch.Generator().manual_seed(0),
        start_labels=np.zeros(len(X), dtype=int), start_prior=[0.2, 0.3, 0.5])
    assert objective.start_labels is None
    np.testing.assert_allclose(objective.proportions(3), [1 / 3] * 3)


def test_a_warm_start_keeps_the_started_heads_prior(one_torch_thread):
    X, y = _unequal_blobs()
    model = DeepEntropyClustering(3, random_state=0).fit(X)
    fitted = model.cluster_prior_.copy()
    assert not np.allclose(fitted, 1 / 3)  # the started head was kept
    model.set_params(warm_start=True, max_iter=5).fit(X)
    np.testing.assert_allclose(model.cluster_prior_, fitted)
    assert clustering_accuracy(y, model.labels_) >= 0.98


@pytest.mark.parametrize("params, reason", [
    ({"n_heads": 1}, "it starts the first of several heads"),
    ({"n_neighbors": 0}, "it clusters the graph of the neighbour lists"),
    ({"distributed": True}, "in a data-parallel fit"),
])
def test_spectral_head_true_warns_when_it_cannot_start(params, reason):
    X, _ = _unequal_blobs()
    model = DeepEntropyClustering(3, spectral_head=True, **params)
    with pytest.warns(UserWarning, match=f"spectral_head=True is ignored: {reason}"):
        model._check_params_vs_input(X)
    with warnings.catch_warnings():  # "auto" says nothing
        warnings.simplefilter("error")
        model.set_params(spectral_head="auto")._check_params_vs_input(X)


def test_a_graph_that_joins_every_pair_starts_no_head():
    # every row lists every other: the graph says nothing, its spectral
    # clustering is arbitrary (it emptied a cluster of 10 uniform points)
    X = np.random.RandomState(0).uniform(size=(10, 3))
    model = DeepEntropyClustering(3, spectral_head=True)
    with pytest.warns(UserWarning, match="the graph joins every pair of rows"):
        model._check_params_vs_input(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DeepEntropyClustering(3, max_iter=20, random_state=1).fit(X)


@pytest.mark.parametrize("params, shape, expected", [
    ({}, (500, 2), True),
    ({}, (500, 50), True),
    ({}, (500, 51), False),  # neighbours searched on a projection
    ({"n_subclusters": 6}, (500, 784), True),  # into the subclusters
    ({"n_subclusters": 3}, (500, 784), False),  # as many as clusters
    ({"n_subclusters": 6, "spectral_head": False}, (500, 784), False),
    ({"n_subclusters": 6, "n_heads": 1}, (500, 784), False),
    ({"spectral_head": True}, (500, 784), True),
    ({"spectral_head": False}, (500, 2), False),
    ({"n_heads": 1}, (500, 2), False),
    ({"n_clusters": 1}, (500, 2), False),
    ({"n_neighbors": 0, "adversarial_weight": 0.5}, (500, 2), False),
    ({}, (_SPECTRAL_MAX_ROWS + 1, 2), False),
    ({}, (11, 2), False),  # 10 neighbours of 11 rows: every pair joined
    ({}, (12, 2), True),
])
def test_when_the_first_head_starts_from_the_spectral_clustering(params, shape,
                                                                 expected):
    model = DeepEntropyClustering(**{"n_clusters": 3, **params})
    model._check_params_vs_input(np.zeros((10, shape[1])), n_samples=shape[0])
    assert model._spectral_start(shape) is expected
    assert model._spectral_start(shape, warm=True) is False
    assert model._spectral_start(shape, shard=object()) is False


def test_uniform_noise_keeps_every_cluster(one_torch_thread):
    X = np.random.default_rng(0).uniform(size=(500, 2))
    model = DeepEntropyClustering(4, random_state=0).fit(X)
    assert model._spectral_start(X.shape)
    sizes = np.bincount(model.labels_, minlength=4)
    assert sizes.min() > 0.1 * len(X)


def test_restarts_with_started_heads_pickle(one_torch_thread):
    X, _ = _unequal_blobs()
    model = DeepEntropyClustering(3, n_init=2, n_heads=3, max_iter=20,
                                  random_state=0).fit(X)
    assert np.isclose(model.cluster_prior_.sum(), 1.0)
    assert model.history_[-1]["proportions"] == model.cluster_prior_.tolist()
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X), model.labels_)
    np.testing.assert_array_equal(again.cluster_prior_, model.cluster_prior_)
