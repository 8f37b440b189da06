"""Metrics to score a clustering against ground-truth classes.

Only NumPy, SciPy and scikit-learn are used here, so the metrics can score the
output of any clusterer.
"""

from numbers import Integral

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix
from sklearn.utils import check_array, check_consistent_length
from sklearn.utils._param_validation import Interval, validate_params

__all__ = [
    "cluster_balance",
    "clustering_accuracy",
    "clustering_report",
    "match_clusters",
]


def check_clusterings(labels_true, labels_pred):
    """Return both labelings as 1-D arrays of the same, non-zero length."""
    labels_true = check_array(
        labels_true, ensure_2d=False, dtype=None, input_name="labels_true"
    )
    labels_pred = check_array(
        labels_pred, ensure_2d=False, dtype=None, input_name="labels_pred"
    )
    for name, labels in (("labels_true", labels_true), ("labels_pred", labels_pred)):
        if labels.ndim != 1:
            raise ValueError(f"{name} must be 1D: shape is {labels.shape}.")
    check_consistent_length(labels_true, labels_pred)
    return labels_true, labels_pred


@validate_params(
    {"labels_true": ["array-like"], "labels_pred": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def clustering_accuracy(labels_true, labels_pred):
    """Accuracy of a clustering under the best one-to-one cluster-to-class map.

    Cluster labels are arbitrary, so they are first matched to the classes by
    the Hungarian algorithm on the contingency matrix, which finds the
    one-to-one map with the most agreeing samples; the score is the fraction
    of samples that agree under that map.

    The numbers of clusters and classes may differ. Each class is matched to
    at most one cluster and each cluster to at most one class, so with more
    clusters than classes the samples of the unmatched clusters count as
    errors, and with fewer clusters than classes the unmatched classes do.
    The score is therefore never inflated by over-segmenting the data.

    .. versionadded:: 0.1

    Parameters
    ----------
    labels_true : array-like of shape (n_samples,)
        Ground-truth class labels. Any hashable values that NumPy can sort:
        integers (negative ones included), strings, ...

    labels_pred : array-like of shape (n_samples,)
        Cluster labels to evaluate, with the same freedom as `labels_true`.
        A noise label such as ``-1`` is treated as one more cluster.

    Returns
    -------
    accuracy : float
        Fraction of samples, between 0.0 and 1.0, whose cluster is mapped to
        their class. 1.0 means the clustering equals the classes up to a
        renaming of the labels.

    See Also
    --------
    clustering_report : Accuracy, NMI and ARI at once.
    match_clusters : The cluster-to-class map itself.
    sklearn.metrics.normalized_mutual_info_score : Information-based score.
    sklearn.metrics.adjusted_rand_score : Pair-counting score adjusted for chance.

    Notes
    -----
    With a contingency matrix :math:`C` (classes by clusters) over
    :math:`n` samples, the accuracy is :math:`\\max_\\pi \\frac{1}{n}
    \\sum_i C_{i, \\pi(i)}` over the one-to-one partial maps :math:`\\pi` from
    classes to clusters, solved with
    :func:`scipy.optimize.linear_sum_assignment`.

    Examples
    --------
    >>> from skdeepcluster.metrics import clustering_accuracy
    >>> clustering_accuracy([0, 0, 1, 1, 2, 2], [1, 1, 0, 0, 0, 2])
    0.8333333333333334

    Renaming the clusters leaves the score unchanged:

    >>> clustering_accuracy(["a", "a", "b", "b"], [7, 7, -1, -1])
    1.0
    """
    labels_true, labels_pred = check_clusterings(labels_true, labels_pred)
    contingency, rows, cols = _hungarian(labels_true, labels_pred)
    return float(contingency[rows, cols].sum() / labels_true.shape[0])


def _hungarian(labels_true, labels_pred):
    """Contingency matrix and its best one-to-one (rows, cols) matching.

    Inputs already validated. Rows index ``np.unique(labels_true)``, columns
    ``np.unique(labels_pred)``; ``rows`` comes out sorted.
    """
    contingency = contingency_matrix(labels_true, labels_pred)
    rows, cols = linear_sum_assignment(contingency, maximize=True)
    return contingency, rows, cols


@validate_params(
    {"labels_true": ["array-like"], "labels_pred": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def match_clusters(labels_true, labels_pred):
    """The best one-to-one map from clusters to classes (Hungarian matching).

    This is the map under which :func:`clustering_accuracy` scores a
    clustering: of all the ways to pair each cluster with at most one class
    and each class with at most one cluster, the one under which the most
    samples agree. Use it to rename clusters after the classes they stand
    for, or to colour each cluster like its class.

    .. versionadded:: 0.1

    Parameters
    ----------
    labels_true : array-like of shape (n_samples,)
        Ground-truth class labels, any hashable values that NumPy can sort.

    labels_pred : array-like of shape (n_samples,)
        Cluster labels, with the same freedom as `labels_true`.

    Returns
    -------
    mapping : dict
        ``{cluster label: class label}`` for every matched cluster, in the
        sorted order of the classes. With more clusters than classes, the
        clusters left over are absent; with fewer clusters than classes,
        some classes are. Labels are returned as Python scalars.

    See Also
    --------
    clustering_accuracy : The fraction of samples that agree under this map.

    Examples
    --------
    >>> from skdeepcluster.metrics import match_clusters
    >>> match_clusters([0, 0, 1, 1, 2, 2], [1, 1, 0, 0, 0, 2])
    {1: 0, 0: 1, 2: 2}

    A cluster left over by the one-to-one map is absent:

    >>> match_clusters(["a", "a", "b", "b", "b"], [5, 5, 7, 7, 9])
    {5: 'a', 7: 'b'}
    """
    labels_true, labels_pred = check_clusterings(labels_true, labels_pred)
    _, rows, cols = _hungarian(labels_true, labels_pred)
    classes = np.unique(labels_true).tolist()
    clusters = np.unique(labels_pred).tolist()
    return {clusters[col]: classes[row] for row, col in zip(rows, cols)}


@validate_params(
    {"labels_true": ["array-like"], "labels_pred": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def clustering_report(labels_true, labels_pred):
    """Score a clustering with accuracy, NMI and ARI at once.

    .. versionadded:: 0.1

    Parameters
    ----------
    labels_true : array-like of shape (n_samples,)
        Ground-truth class labels.

    labels_pred : array-like of shape (n_samples,)
        Cluster labels to evaluate.

    Returns
    -------
    report : dict
        ``{"accuracy": float, "nmi": float, "ari": float}``: the accuracy of
        :func:`clustering_accuracy`, the normalized mutual information of
        :func:`sklearn.metrics.normalized_mutual_info_score` (arithmetic
        normalisation) and the adjusted Rand index of
        :func:`sklearn.metrics.adjusted_rand_score`.

    See Also
    --------
    clustering_accuracy : Accuracy under the best cluster-to-class map.

    Examples
    --------
    >>> from skdeepcluster.metrics import clustering_report
    >>> report = clustering_report([0, 0, 1, 1], [1, 1, 0, 0])
    >>> report
    {'accuracy': 1.0, 'nmi': 1.0, 'ari': 1.0}
    """
    labels_true, labels_pred = check_clusterings(labels_true, labels_pred)
    return {
        "accuracy": clustering_accuracy(labels_true, labels_pred),
        "nmi": float(normalized_mutual_info_score(labels_true, labels_pred)),
        "ari": float(adjusted_rand_score(labels_true, labels_pred)),
    }


@validate_params(
    {
        "labels": ["array-like"],
        "n_clusters": [Interval(Integral, 1, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
def cluster_balance(labels, n_clusters=None):
    """Normalised entropy of the cluster sizes: 1.0 when all are equal.

    Deep clustering can collapse onto a few clusters; this score measures how
    evenly the samples spread over the clusters, without ground truth.

    .. versionadded:: 0.1

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        Cluster labels, any hashable values that NumPy can sort.

    n_clusters : int, default=None
        Number of clusters the clusterer could use. Clusters that received no
        sample count as empty, which lowers the score. By default, the number
        of distinct values in `labels`.

    Returns
    -------
    balance : float
        :math:`H(p) / \\log K` where :math:`p` holds the cluster proportions
        and :math:`K` the number of clusters, between 0.0 (all samples in one
        of several clusters) and 1.0 (equal sizes). 1.0 when :math:`K = 1`.

    Examples
    --------
    >>> from skdeepcluster.metrics import cluster_balance
    >>> round(cluster_balance([0, 0, 1, 1, 2, 2]), 6)
    1.0
    >>> round(cluster_balance([0, 0, 1, 1], n_clusters=4), 6)
    0.5
    """
    labels = check_array(labels, ensure_2d=False, dtype=None, input_name="labels")
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1D: shape is {labels.shape}.")
    _, counts = np.unique(labels, return_counts=True)
    if n_clusters is None:
        n_clusters = counts.shape[0]
    elif n_clusters < counts.shape[0]:
        raise ValueError(
            f"n_clusters={n_clusters} is smaller than the {counts.shape[0]} "
            "distinct values in labels."
        )
    return size_balance(counts, n_clusters)


def size_balance(counts, n_clusters):
    """Normalised entropy ``H(p) / ln K`` of cluster sizes (zeros allowed)."""
    if n_clusters == 1:
        return 1.0
    counts = np.asarray(counts, dtype=float)
    proportions = counts[counts > 0] / counts.sum()
    entropy = -np.sum(proportions * np.log(proportions))
    return float(entropy / np.log(n_clusters))
