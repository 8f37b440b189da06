"""Plots of a clustering and of its training.

matplotlib is an optional dependency (``pip install matplotlib``, or the
``plots`` extra): it is imported when a function here is called, not when the
module is imported. Every function draws on the Axes it is given (a new figure
when ``ax`` is None) and returns that Axes.

.. versionadded:: 0.1
"""

import numpy as np
from sklearn.metrics.cluster import contingency_matrix
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from .metrics import check_clusterings, cluster_balance, match_clusters

__all__ = [
    "plot_cluster_sizes",
    "plot_confusion",
    "plot_decision_map",
    "plot_training_history",
]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "skdeepcluster.plotting needs matplotlib, which is not installed: "
            "pip install matplotlib"
        ) from exc
    return plt


def _axes(ax):
    """The given Axes, or the Axes of a new figure; fails clearly without mpl."""
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots()
    return ax


def _cmap(n_colors):
    """A qualitative colormap with ``n_colors`` entries (tab10/tab20, else turbo)."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    if n_colors <= 10:
        name, size = "tab10", 10
    elif n_colors <= 20:
        name, size = "tab20", 20
    else:
        return colormaps["turbo"].resampled(n_colors)
    return ListedColormap(colormaps[name].colors[:size][: max(n_colors, 1)])


def _history(estimator_or_history):
    if hasattr(estimator_or_history, "get_params"):
        check_is_fitted(estimator_or_history, "history_")
        history = estimator_or_history.history_
    elif hasattr(estimator_or_history, "to_dict"):  # a pandas DataFrame
        history = estimator_or_history.to_dict("records")
    else:
        history = list(estimator_or_history)
    if not history or not all(isinstance(h, dict) and "loss" in h for h in history):
        raise ValueError(
            "Expected a fitted estimator with a history_ attribute, or a "
            "non-empty list of per-epoch dicts with a 'loss' key; got "
            f"{type(estimator_or_history).__name__}."
        )
    return history


def plot_training_history(estimator_or_history, ax=None):
    """Plot the training loss and the mutual-information score per epoch.

    The loss (left axis) should fall and the score (right axis, a twin Axes
    sharing the epochs) should rise then level off; a score that drops while
    the loss falls points at clusters merging.

    .. versionadded:: 0.1

    Parameters
    ----------
    estimator_or_history : estimator or list of dict
        A fitted :class:`~skdeepcluster.DeepEntropyClustering` (its
        ``history_``), or such a history: one dict per epoch with the key
        ``"loss"`` and optionally ``"score"`` (a pandas DataFrame of the same
        columns works too).
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure when None.

    Returns
    -------
    ax : matplotlib Axes
        The Axes of the loss curve. The score curve is drawn on a twin Axes,
        found in ``ax.figure.axes``.

    See Also
    --------
    plot_cluster_sizes : Sizes of the clusters found.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skdeepcluster.plotting import plot_training_history
    >>> history = [{"loss": 2.0, "score": 0.5}, {"loss": 1.5, "score": 1.2}]
    >>> ax = plot_training_history(history)
    >>> ax.get_ylabel()
    'training loss'
    """
    history = _history(estimator_or_history)
    ax = _axes(ax)
    epochs = np.arange(1, len(history) + 1)
    loss = [h["loss"] for h in history]
    (loss_line,) = ax.plot(epochs, loss, color="C0", marker=".", label="loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    lines = [loss_line]
    if all("score" in h for h in history):
        twin = ax.twinx()
        (score_line,) = twin.plot(
            epochs, [h["score"] for h in history], color="C1", marker=".",
            label="mutual information (score)",
        )
        twin.set_ylabel("mutual information")
        lines.append(score_line)
    ax.legend(lines, [line.get_label() for line in lines], loc="center right")
    ax.set_title("Training history")
    return ax


def plot_cluster_sizes(labels_or_estimator, ax=None):
    """Bar chart of the number of points in each cluster.

    A dashed line marks the size every cluster would have if all were equal;
    the title gives :func:`~skdeepcluster.metrics.cluster_balance`.

    .. versionadded:: 0.1

    Parameters
    ----------
    labels_or_estimator : array-like of shape (n_samples,) or estimator
        Cluster labels, or a fitted clusterer (its ``labels_``; clusters up
        to its ``n_clusters`` that got no point are shown as empty bars).
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure when None.

    Returns
    -------
    ax : matplotlib Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skdeepcluster.plotting import plot_cluster_sizes
    >>> ax = plot_cluster_sizes([0, 0, 1, 2, 2, 2])
    >>> [int(bar.get_height()) for bar in ax.patches]
    [2, 1, 3]
    """
    n_clusters = None
    if hasattr(labels_or_estimator, "get_params"):
        check_is_fitted(labels_or_estimator, "labels_")
        n_clusters = getattr(labels_or_estimator, "n_clusters", None)
        labels = labels_or_estimator.labels_
    else:
        labels = labels_or_estimator
    labels = check_array(labels, ensure_2d=False, dtype=None, input_name="labels")
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1D: shape is {labels.shape}.")
    ax = _axes(ax)
    if labels.dtype.kind in "iu" and labels.min() >= 0:
        sizes = np.bincount(labels, minlength=n_clusters or 0)
        names = np.arange(len(sizes))
    else:
        names, sizes = np.unique(labels, return_counts=True)
    positions = np.arange(len(sizes))
    ax.bar(positions, sizes, color=_cmap(len(sizes))(positions))
    ax.axhline(sizes.sum() / len(sizes), color="0.3", linestyle="--", linewidth=1,
               label="equal sizes")
    ax.set_xticks(positions, [str(name) for name in names])
    ax.set_xlabel("cluster")
    ax.set_ylabel("number of points")
    balance = cluster_balance(labels, n_clusters=len(sizes))
    ax.set_title(f"Cluster sizes (balance {balance:.2f})")
    return ax


def plot_confusion(labels_true, labels_pred, ax=None, *, annotate=True):
    """Contingency matrix of classes and clusters after Hungarian matching.

    Clusters are reordered so that the cluster matched to each class (the
    one-to-one map of :func:`~skdeepcluster.metrics.clustering_accuracy`)
    sits on the diagonal; unmatched clusters follow on the right. The title
    gives the accuracy under that map.

    .. versionadded:: 0.1

    Parameters
    ----------
    labels_true : array-like of shape (n_samples,)
        Ground-truth class labels.
    labels_pred : array-like of shape (n_samples,)
        Cluster labels.
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure when None.
    annotate : bool, default=True
        Write the counts in the cells (only when both sides have at most 20
        values).

    Returns
    -------
    ax : matplotlib Axes
        The Axes drawn on; rows are classes, columns clusters (tick labels are
        the original cluster labels).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skdeepcluster.plotting import plot_confusion
    >>> ax = plot_confusion([0, 0, 1, 1], [1, 1, 0, 0])
    >>> [tick.get_text() for tick in ax.get_xticklabels()]
    ['1', '0']
    >>> ax.get_title()
    'ACC = 1.000'
    """
    labels_true, labels_pred = check_clusterings(labels_true, labels_pred)
    classes = np.unique(labels_true)
    clusters = np.unique(labels_pred)
    counts = contingency_matrix(labels_true, labels_pred)
    mapping = match_clusters(labels_true, labels_pred)  # in class order
    class_index = {label: i for i, label in enumerate(classes.tolist())}
    cluster_index = {label: j for j, label in enumerate(clusters.tolist())}
    matched = [cluster_index[cluster] for cluster in mapping]
    order = matched + [c for c in range(len(clusters)) if c not in set(matched)]
    accuracy = sum(counts[class_index[label], cluster_index[cluster]]
                   for cluster, label in mapping.items()) / labels_true.shape[0]
    counts = counts[:, order]
    ax = _axes(ax)
    ax.imshow(counts, cmap="Blues", aspect="auto", interpolation="nearest")
    ax.set_xticks(np.arange(len(order)), [str(clusters[c]) for c in order])
    ax.set_yticks(np.arange(len(classes)), [str(c) for c in classes])
    ax.set_xlabel("cluster (matched order)")
    ax.set_ylabel("true class")
    ax.set_title(f"ACC = {accuracy:.3f}")
    if annotate and counts.shape[0] <= 20 and counts.shape[1] <= 20:
        threshold = counts.max() / 2
        for (i, j), value in np.ndenumerate(counts):
            ax.text(j, i, str(value), ha="center", va="center", fontsize="small",
                    color="white" if value > threshold else "black")
    return ax


def plot_decision_map(estimator, X, ax=None, *, resolution=200):
    """Clusters of a 2-D plane: predictions on a grid, with the data on top.

    .. versionadded:: 0.1

    Parameters
    ----------
    estimator : estimator
        A fitted clusterer with a ``predict`` method, trained on two features.
    X : array-like of shape (n_samples, 2)
        Points to draw, coloured by their predicted cluster; the grid covers
        them with a 5% margin.
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure when None.
    resolution : int, default=200
        Number of grid points along each axis.

    Returns
    -------
    ax : matplotlib Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.cluster import KMeans
    >>> from sklearn.datasets import make_blobs
    >>> from skdeepcluster.plotting import plot_decision_map
    >>> X, _ = make_blobs(n_samples=60, centers=3, random_state=0)
    >>> ax = plot_decision_map(KMeans(3, n_init=1, random_state=0).fit(X), X,
    ...                        resolution=50)
    >>> len(ax.collections) > 0
    True
    """
    if not hasattr(estimator, "predict"):
        raise TypeError(
            f"{type(estimator).__name__} has no predict method, so it cannot "
            "label a grid; use a clusterer that labels new points."
        )
    check_is_fitted(estimator)
    X = check_array(X, input_name="X")
    if X.shape[1] != 2:
        raise ValueError(
            f"plot_decision_map draws 2-D data; X has {X.shape[1]} features."
        )
    ax = _axes(ax)
    low, high = X.min(axis=0), X.max(axis=0)
    pad = 0.05 * np.where(high > low, high - low, 1.0)
    xs = np.linspace(low[0] - pad[0], high[0] + pad[0], int(resolution))
    ys = np.linspace(low[1] - pad[1], high[1] + pad[1], int(resolution))
    xx, yy = np.meshgrid(xs, ys)
    grid_labels = np.asarray(estimator.predict(np.column_stack([xx.ravel(),
                                                                yy.ravel()])))
    point_labels = np.asarray(estimator.predict(X))
    names, codes = np.unique(np.concatenate([grid_labels, point_labels]),
                             return_inverse=True)
    n_colors = max(len(names), getattr(estimator, "n_clusters", 0) or 0)
    cmap = _cmap(n_colors)
    grid_codes = codes[: grid_labels.size].reshape(xx.shape)
    levels = np.arange(n_colors + 1) - 0.5
    ax.contourf(xx, yy, grid_codes, levels=levels, cmap=cmap, alpha=0.35)
    ax.scatter(X[:, 0], X[:, 1], c=codes[grid_labels.size:], cmap=cmap,
               vmin=-0.5, vmax=n_colors - 0.5, s=12, edgecolors="k",
               linewidths=0.3)
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_xlabel("feature 0")
    ax.set_ylabel("feature 1")
    return ax
