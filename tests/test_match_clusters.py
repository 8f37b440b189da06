"""metrics.match_clusters: the Hungarian cluster-to-class map."""

import numpy as np
import pytest

from skdeepcluster.metrics import clustering_accuracy, match_clusters


def test_hand_computed():
    assert match_clusters([0, 0, 1, 1, 2, 2], [1, 1, 0, 0, 0, 2]) == {
        1: 0, 0: 1, 2: 2}


def test_python_scalars_and_strings():
    mapping = match_clusters(np.array(["a", "a", "b", "b", "b"]),
                             np.array([5, 5, 7, 7, 9]))
    assert mapping == {5: "a", 7: "b"}
    assert all(type(k) is int and type(v) is str for k, v in mapping.items())


def test_extra_clusters_and_classes_stay_unmatched():
    assert match_clusters([0, 0, 0, 1], [4, 4, 4, 4]) == {4: 0}
    assert match_clusters([0, 0, 1, 1], [0, 1, 2, 3]).keys() <= {0, 1, 2, 3}
    assert len(match_clusters([0, 0, 1, 1], [0, 1, 2, 3])) == 2


@pytest.mark.parametrize("seed", range(20))
def test_one_to_one_and_scored_by_clustering_accuracy(seed):
    rng = np.random.RandomState(seed)
    n_classes, n_clusters = rng.randint(1, 7, size=2)
    labels_true = rng.randint(0, n_classes, 50)
    labels_pred = rng.randint(0, n_clusters, 50) * 3 - 2
    mapping = match_clusters(labels_true, labels_pred)
    assert len(set(mapping.values())) == len(mapping)
    assert len(mapping) == min(len(np.unique(labels_true)),
                               len(np.unique(labels_pred)))
    agree = sum(np.sum((labels_pred == cluster) & (labels_true == label))
                for cluster, label in mapping.items())
    assert agree / 50 == pytest.approx(clustering_accuracy(labels_true, labels_pred))


def test_invalid_input():
    with pytest.raises(ValueError, match="labels_true must be 1D"):
        match_clusters([[0, 1]], [0, 1])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        match_clusters([0, 1, 1], [0, 1])
