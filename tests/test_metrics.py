import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from skdeepcluster.metrics import (
    cluster_balance,
    clustering_accuracy,
    clustering_report,
)


@pytest.mark.parametrize(
    "labels_true, labels_pred, expected",
    [
        # identical up to renaming
        ([0, 0, 1, 1, 2, 2], [2, 2, 0, 0, 1, 1], 1.0),
        # best map 0->1, 1->0, 2->2: 2 + 2 + 1 of 6 agree
        ([0, 0, 1, 1, 2, 2], [1, 1, 0, 0, 0, 2], 5 / 6),
        # everything in one cluster: only the largest class can be matched
        ([0, 0, 0, 1, 1, 2], [5, 5, 5, 5, 5, 5], 3 / 6),
        # contingency [[2, 1], [2, 0]]: mapping class 0 to cluster 1 (1) and
        # class 1 to cluster 0 (2) beats class 0 to cluster 0 alone (2)
        ([0, 0, 0, 1, 1], [0, 0, 1, 0, 0], 3 / 5),
    ],
)
def test_clustering_accuracy_hand_computed(labels_true, labels_pred, expected):
    assert clustering_accuracy(labels_true, labels_pred) == pytest.approx(expected)


def test_clustering_accuracy_beats_greedy_matching():
    # contingency (classes x clusters) = [[3, 2], [3, 0]]: greedy takes the
    # 3 in the top-left and is left with 0; the optimum is 2 + 3 = 5 of 8.
    labels_true = [0, 0, 0, 0, 0, 1, 1, 1]
    labels_pred = [0, 0, 0, 1, 1, 0, 0, 0]
    assert clustering_accuracy(labels_true, labels_pred) == pytest.approx(5 / 8)


def test_clustering_accuracy_more_clusters_than_classes():
    # 2 classes split into 4 clusters: only 2 clusters can be matched, the
    # samples of the 2 others count as errors.
    labels_true = [0, 0, 0, 0, 1, 1, 1, 1]
    labels_pred = [0, 0, 0, 1, 2, 2, 3, 3]
    assert clustering_accuracy(labels_true, labels_pred) == pytest.approx(5 / 8)
    # one cluster per sample: each class matches one singleton
    assert clustering_accuracy(labels_true, np.arange(8)) == pytest.approx(2 / 8)


def test_clustering_accuracy_fewer_clusters_than_classes():
    labels_true = [0, 0, 1, 1, 2, 2, 3, 3]
    labels_pred = [0, 0, 0, 0, 1, 1, 1, 1]
    assert clustering_accuracy(labels_true, labels_pred) == pytest.approx(4 / 8)


def test_clustering_accuracy_permutation_invariance():
    rng = np.random.RandomState(0)
    labels_true = rng.randint(4, size=200)
    labels_pred = rng.randint(6, size=200)
    reference = clustering_accuracy(labels_true, labels_pred)

    # renaming the clusters
    renamed_pred = rng.permutation(6)[labels_pred]
    assert clustering_accuracy(labels_true, renamed_pred) == pytest.approx(reference)
    # renaming the classes
    renamed_true = rng.permutation(4)[labels_true]
    assert clustering_accuracy(renamed_true, labels_pred) == pytest.approx(reference)
    # reordering the samples
    order = rng.permutation(200)
    assert clustering_accuracy(labels_true[order], labels_pred[order]) == pytest.approx(
        reference
    )


def test_clustering_accuracy_symmetric():
    rng = np.random.RandomState(1)
    labels_true = rng.randint(3, size=100)
    labels_pred = rng.randint(5, size=100)
    assert clustering_accuracy(labels_true, labels_pred) == pytest.approx(
        clustering_accuracy(labels_pred, labels_true)
    )


def test_clustering_accuracy_arbitrary_label_values():
    labels_true = ["cat", "cat", "dog", "dog", "eel"]
    labels_pred = [-1, -1, 10, 10, 10]
    assert clustering_accuracy(labels_true, labels_pred) == pytest.approx(4 / 5)
    assert clustering_accuracy(
        np.array(labels_true, dtype=object), [0.5, 0.5, -3.0, -3.0, 7.0]
    ) == pytest.approx(1.0)


def test_clustering_accuracy_returns_python_float_in_unit_interval():
    rng = np.random.RandomState(2)
    for _ in range(5):
        score = clustering_accuracy(rng.randint(3, size=30), rng.randint(7, size=30))
        assert type(score) is float
        assert 0.0 <= score <= 1.0


def test_clustering_accuracy_single_sample():
    assert clustering_accuracy([3], ["a"]) == 1.0


@pytest.mark.parametrize(
    "labels_true, labels_pred, match",
    [
        ([0, 1, 1], [0, 1], "inconsistent numbers of samples"),
        ([[0, 1], [1, 0]], [[0, 1], [1, 0]], "labels_true must be 1D"),
        ([0, 1], [[0], [1]], "labels_pred must be 1D"),
        ([], [], "0 sample"),
        ([0.0, np.nan], [0, 1], "NaN"),
    ],
)
def test_clustering_accuracy_invalid_input(labels_true, labels_pred, match):
    with pytest.raises(ValueError, match=match):
        clustering_accuracy(labels_true, labels_pred)


def test_clustering_accuracy_rejects_non_array_like():
    with pytest.raises(ValueError, match="'labels_true' parameter"):
        clustering_accuracy(None, [0, 1])


def test_clustering_report_matches_sklearn():
    rng = np.random.RandomState(3)
    labels_true = rng.randint(3, size=50)
    labels_pred = rng.randint(4, size=50)
    report = clustering_report(labels_true, labels_pred)
    assert set(report) == {"accuracy", "nmi", "ari"}
    assert all(type(value) is float for value in report.values())
    assert report["accuracy"] == clustering_accuracy(labels_true, labels_pred)
    assert report["nmi"] == pytest.approx(
        normalized_mutual_info_score(labels_true, labels_pred)
    )
    assert report["ari"] == pytest.approx(adjusted_rand_score(labels_true, labels_pred))


def test_clustering_report_perfect_and_invalid():
    assert clustering_report(["x", "y", "y"], [1, 0, 0]) == {
        "accuracy": 1.0,
        "nmi": 1.0,
        "ari": 1.0,
    }
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clustering_report([0, 1], [0, 1, 1])


def test_cluster_balance():
    assert cluster_balance([0, 1, 2, 0, 1, 2]) == pytest.approx(1.0)
    assert cluster_balance(["a", "b"]) == pytest.approx(1.0)
    # 3 of 4 clusters used, sizes (2, 1, 1): H = 1.5 bits, log2(4) = 2 bits
    assert cluster_balance([0, 0, 1, 2], n_clusters=4) == pytest.approx(0.75)
    # collapse onto one of several clusters
    assert cluster_balance([1, 1, 1], n_clusters=3) == pytest.approx(0.0)
    assert cluster_balance([1, 1, 1]) == 1.0


def test_cluster_balance_invalid():
    with pytest.raises(ValueError, match="n_clusters=2 is smaller than the 3"):
        cluster_balance([0, 1, 2], n_clusters=2)
    with pytest.raises(ValueError, match="'n_clusters' parameter"):
        cluster_balance([0, 1], n_clusters=0)
    with pytest.raises(ValueError, match="labels must be 1D"):
        cluster_balance([[0, 1]])
