"""Subclusters joined into clusters on the neighbour graph (``n_subclusters``)."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from skdeepcluster import DeepEntropyClustering
from skdeepcluster._inference import predict_logits
from skdeepcluster._neighbors import cut_counts, edge_counts, merge_clusters

PARAMS = dict(n_clusters=3, n_subclusters=6, max_iter=8, batch_size=32,
              random_state=0)


def _unequal_blobs():
    """Three well separated blobs of 400, 50 and 50 points."""
    centers = [[0.0, 0.0], [12.0, 0.0], [0.0, 12.0]]
    return make_blobs(n_samples=[400, 50, 50], centers=centers, random_state=0)


def test_edge_counts_hold_the_cut_counts():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 50)
    neighbors = rng.integers(0, 50, (50, 5))
    edges = edge_counts(labels, neighbors, 4)
    inside, volume = cut_counts(labels, neighbors, 4)
    np.testing.assert_array_equal(edges, edges.T)
    np.testing.assert_array_equal(np.diag(edges), inside)
    np.testing.assert_array_equal(edges.sum(1), volume)
    # by hand: each listed pair (i, j) counted once from each end
    listed = np.zeros((4, 4))
    for i in range(50):
        for j in neighbors[i]:
            listed[labels[i], labels[j]] += 1
    np.testing.assert_array_equal(edges, listed + listed.T)


def test_merge_joins_the_most_connected_share_first():
    # clusters 0 and 1 share many edges, 2 and 3 too, the pairs few
    edges = np.array([[50, 20, 1, 0],
                      [20, 30, 0, 1],
                      [1, 0, 40, 15],
                      [0, 1, 15, 10]], dtype=float)
    np.testing.assert_array_equal(merge_clusters(edges, 2), [0, 0, 1, 1])
    np.testing.assert_array_equal(merge_clusters(edges, 4), [0, 1, 2, 3])
    np.testing.assert_array_equal(merge_clusters(edges, 1), [0, 0, 0, 0])
    # the share is relative to the larger volume: 0 and 1 (volumes near
    # 1,000) join before 0 and 2, which share more edges but a smaller part
    # of 2's volume (5,000)
    edges = np.array([[900, 30, 45, 0],
                      [30, 900, 0, 0],
                      [45, 0, 4955, 0],
                      [0, 0, 0, 100]], dtype=float)
    np.testing.assert_array_equal(merge_clusters(edges, 3), [0, 0, 1, 2])

def test_merge_places_clusters_without_rows_by_affinity():
    # cluster 2 has no rows: it takes no part in the linkage and joins the
    # cluster whose rows give it the most probability
    edges = np.array([[10, 5, 0], [5, 10, 0], [0, 0, 0]], dtype=float)
    np.testing.assert_array_equal(merge_clusters(edges, 2), [0, 1, 0])
    affinity = np.array([[0.8, 0.1, 0.1], [0.1, 0.6, 0.3], [0.3, 0.3, 0.4]])
    np.testing.assert_array_equal(merge_clusters(edges, 2, affinity), [0, 1, 1])
    np.testing.assert_array_equal(merge_clusters(edges, 1, affinity), [0, 0, 0])
    # fewer clusters with rows than groups: the first without rows is a
    # group of its own, the next joins one
    edges = np.diag([10.0, 0.0, 0.0])
    np.testing.assert_array_equal(merge_clusters(edges, 2), [0, 1, 0])
    np.testing.assert_array_equal(merge_clusters(edges, 3), [0, 1, 2])
    # groups are numbered by their first cluster
    edges = np.array([[0, 0, 0], [0, 10, 5], [0, 5, 10]], dtype=float)
    affinity = np.array([[0, 0, 0], [0.1, 0.5, 0.4], [0.1, 0.4, 0.5]])
    np.testing.assert_array_equal(merge_clusters(edges, 1, affinity), [0, 0, 0])
    np.testing.assert_array_equal(merge_clusters(edges, 2, affinity), [0, 0, 1])


def test_subclusters_find_clusters_of_unequal_sizes(one_torch_thread):
    X, y = _unequal_blobs()
    model = DeepEntropyClustering(**{**PARAMS, "max_iter": 20}).fit(X)
    assert adjusted_rand_score(y, model.labels_) > 0.95
    found = np.sort(np.bincount(model.labels_, minlength=3)) / len(X)
    np.testing.assert_allclose(found, [0.1, 0.1, 0.8], atol=0.03)
    # the big blob takes several subclusters
    assert np.bincount(model.subcluster_map_, minlength=3).max() >= 2


def test_cluster_probabilities_are_sums_of_subclusters(one_torch_thread):
    X, _ = _unequal_blobs()
    model = DeepEntropyClustering(**PARAMS).fit(X)
    groups = model.subcluster_map_
    assert groups.shape == (6,)
    assert set(groups) == {0, 1, 2}  # every cluster has a subcluster
    assert model.module_[-1].out_features == 6
    assert model.cluster_prior_.shape == (6,)
    assert len(model.history_[-1]["cluster_sizes"]) == 6

    logits = predict_logits(model.module_, X, model._scaler, torch.device("cpu"))
    sub = torch.softmax(logits.double(), 1).numpy()
    expected = np.stack([sub[:, groups == c].sum(1) for c in range(3)], 1)
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba, expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(np.exp(model.transform(X)), proba, rtol=1e-6)
    np.testing.assert_array_equal(model.predict(X), model.labels_)
    np.testing.assert_array_equal(model.fit_predict(X), model.labels_)
    assert 0 <= model.score(X) <= np.log(3) + 1e-9
    assert list(model.get_feature_names_out()) == [
        "deepentropyclustering0", "deepentropyclustering1",
        "deepentropyclustering2"]

    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.subcluster_map_, groups)
    np.testing.assert_allclose(again.predict_proba(X), proba)


def test_as_many_subclusters_as_clusters_is_the_plain_fit(one_torch_thread):
    X, _ = _unequal_blobs()
    plain = DeepEntropyClustering(**{**PARAMS, "n_subclusters": None}).fit(X)
    same = DeepEntropyClustering(**{**PARAMS, "n_subclusters": 3}).fit(X)
    np.testing.assert_array_equal(plain.subcluster_map_, [0, 1, 2])
    np.testing.assert_array_equal(same.subcluster_map_, [0, 1, 2])
    np.testing.assert_array_equal(same.labels_, plain.labels_)
    np.testing.assert_allclose(same.predict_proba(X), plain.predict_proba(X))
    # there is nothing to join, so known proportions hold as without it
    prior = {"cluster_prior": [0.6, 0.3, 0.1], "max_iter": 2, "n_heads": 1}
    plain = DeepEntropyClustering(**{**PARAMS, **prior, "n_subclusters": None}).fit(X)
    same = DeepEntropyClustering(**{**PARAMS, **prior, "n_subclusters": 3}).fit(X)
    np.testing.assert_array_equal(same.labels_, plain.labels_)
    np.testing.assert_allclose(same.cluster_prior_, plain.cluster_prior_)


def test_refit_and_warm_start(one_torch_thread):
    X, _ = _unequal_blobs()
    model = DeepEntropyClustering(**PARAMS).fit(X)
    model.set_params(warm_start=True, max_iter=2).fit(X)
    assert model.module_[-1].out_features == 6
    assert model.subcluster_map_.shape == (6,)
    np.testing.assert_array_equal(model.predict(X), model.labels_)
    with pytest.raises(ValueError, match="n_subclusters=4"):
        model.set_params(n_subclusters=4).fit(X)
    # a fresh fit without subclusters leaves no grouping behind
    model.set_params(warm_start=False, n_subclusters=None).fit(X)
    np.testing.assert_array_equal(model.subcluster_map_, [0, 1, 2])
    assert model.predict_proba(X).shape == (len(X), 3)


def test_subclusters_without_pairing_still_have_a_graph(one_torch_thread,
                                                        capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # plain lines
    X, _ = _unequal_blobs()
    model = DeepEntropyClustering(**{**PARAMS, "n_neighbors": 0, "n_heads": 2},
                                  verbose=1).fit(X)
    assert set(model.subcluster_map_) == {0, 1, 2}
    np.testing.assert_array_equal(model.predict(X), model.labels_)
    plan = capsys.readouterr().out.splitlines()[0]
    assert ("2 heads (the one with the lowest normalised cut kept); 6 "
            "subclusters joined into 3 clusters on the neighbour graph") in plan
    assert "neighbour lists exact" in plan


@pytest.mark.parametrize("params, match", [
    (dict(n_clusters=4, n_subclusters=3), "n_subclusters=3 should be >= n_clusters=4"),
    (dict(n_clusters=2, n_subclusters=4, cluster_prior=[0.8, 0.2]),
     "cluster_prior gives the proportions of the clusters"),
    (dict(n_clusters=2, n_subclusters=40),
     "n_samples=30 should be >= n_subclusters=40"),
])
def test_invalid_subclusters(params, match):
    X = np.random.default_rng(0).normal(size=(30, 2))
    with pytest.raises(ValueError, match=match):
        DeepEntropyClustering(**params, max_iter=1).fit(X)


def test_estimated_proportions_are_the_subclusters(one_torch_thread):
    X, _ = _unequal_blobs()
    model = DeepEntropyClustering(**PARAMS, cluster_prior="estimate").fit(X)
    assert model.cluster_prior_.shape == (6,)
    assert model.cluster_prior_.sum() == pytest.approx(1.0)
    assert len(model.history_[-1]["proportions"]) == 6


@pytest.mark.slow
def test_subclusters_beat_the_default_on_long_tailed_digits():
    """Quality: on digits with a long tail (class c keeps 170 * 10**(-c/9)
    of its rows: 170 down to 17), twice as many subclusters as classes
    recover the small classes the uniform prior merges (0.842 against 0.663
    at this seed when written, the first head started from the spectral
    clustering into the subclusters)."""
    from sklearn.datasets import load_digits

    from skdeepcluster.metrics import clustering_accuracy

    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    keep = np.sort(np.concatenate([
        rng.choice(np.flatnonzero(y == c), round(170 * 10 ** (-c / 9)), replace=False)
        for c in range(10)]))
    X, y = X[keep], y[keep]
    plain = DeepEntropyClustering(10, random_state=0).fit_predict(X)
    joined = DeepEntropyClustering(10, n_subclusters=20, random_state=0).fit_predict(X)
    assert clustering_accuracy(y, joined) > clustering_accuracy(y, plain) + 0.08


def test_a_module_of_your_own_gets_the_subclusters(one_torch_thread):
    X, _ = _unequal_blobs()
    built = []

    def network(n_features, n_outputs):
        built.append(n_outputs)
        return torch.nn.Sequential(torch.nn.Linear(n_features, 16), torch.nn.ReLU(),
                                   torch.nn.Linear(16, n_outputs))

    model = DeepEntropyClustering(**PARAMS, model=network).fit(X)
    assert set(built) == {6}
    assert model.predict_proba(X).shape == (len(X), 3)
