"""The figure of ``skdeepcluster compare`` (needs matplotlib).

One column per panel: the true classes when known, then each method. The
top row scatters the first two principal components, coloured by class or by
cluster (a cluster takes the colour of the class it is matched to); the
bottom row shows the class sizes under the true classes, and under each
method its matched contingency matrix with the classes, or its cluster sizes
when there are no labels. Every title says which of these it is.
"""

import numpy as np
from sklearn.decomposition import PCA

from ..metrics import cluster_balance, clustering_accuracy, match_clusters
from ..plotting import plot_cluster_sizes, plot_confusion

SCATTER_POINTS = 5000  # points drawn in the PCA panels at most


def colour_codes(labels, labels_true):
    """Colour index of each point: a cluster takes the colour of its matched class.

    Without true labels, clusters are numbered in sorted order. Clusters left
    unmatched by the Hungarian map get the colours after the classes'.
    """
    clusters, codes = np.unique(labels, return_inverse=True)
    if labels_true is None:
        return codes
    mapping = match_clusters(labels_true, labels)
    class_index = {label: i for i, label in enumerate(np.unique(labels_true).tolist())}
    colour = np.empty(len(clusters), dtype=np.int64)
    spare = len(class_index)
    for j, cluster in enumerate(clusters.tolist()):
        if cluster in mapping:
            colour[j] = class_index[mapping[cluster]]
        else:
            colour[j], spare = spare, spare + 1
    return colour[codes]


def _sizes_panel(ax, labels, whose, what):
    """Bar chart of the sizes of the groups of ``labels``, titled by what they are."""
    plot_cluster_sizes(labels, ax=ax)
    balance = cluster_balance(labels, n_clusters=len(ax.patches))
    ax.set_title(f"{whose}\n{what} sizes (balance {balance:.2f})")


def comparison_figure(labels_by_method, data, random_state=0):
    """The comparison figure of the methods' labels on ``data``, unsaved."""
    from matplotlib.figure import Figure

    X = data.X
    rng = np.random.RandomState(random_state)
    shown = np.arange(X.shape[0])
    if X.shape[0] > SCATTER_POINTS:
        shown = np.sort(rng.choice(X.shape[0], SCATTER_POINTS, replace=False))
    if X.shape[1] >= 2:
        xy = PCA(n_components=2, random_state=random_state).fit_transform(X)[shown]
    else:
        xy = np.column_stack([X[shown, 0], np.zeros(len(shown))])
    panels = [(name, labels, False) for name, labels in labels_by_method.items()]
    if data.y is not None:
        panels.insert(0, ("true", data.y, True))
    n_cols = len(panels)
    fig = Figure(figsize=(3.4 * n_cols, 7.0), layout="constrained")
    axes = fig.subplots(2, n_cols, squeeze=False)
    for col, (name, labels, is_truth) in enumerate(panels):
        codes = colour_codes(labels, data.y)
        top = axes[0, col]
        n_colors = 10 if codes.max() < 10 else 20
        top.scatter(xy[:, 0], xy[:, 1], c=codes[shown] % n_colors,
                    cmap=f"tab{n_colors}", vmin=0, vmax=n_colors - 1, s=4,
                    linewidths=0)
        top.set_title("true labels\nclasses" if is_truth else f"{name}\nclusters")
        top.set_xticks([])
        top.set_yticks([])
        bottom = axes[1, col]
        if is_truth:
            _sizes_panel(bottom, labels, "true labels", "class")
            bottom.set_xlabel("class")
        elif data.y is not None:
            plot_confusion(data.y, labels, ax=bottom, annotate=False)
            accuracy = clustering_accuracy(data.y, labels)
            bottom.set_title(f"{name}\nclusters by class (ACC {accuracy:.3f})")
        else:
            _sizes_panel(bottom, labels, name, "cluster")
    axes[0, 0].set_xlabel("PCA 1")
    axes[0, 0].set_ylabel("PCA 2")
    fig.suptitle(f"{data.name}: {X.shape[0]} samples; top: the first two "
                 "principal components")
    return fig


def draw_figure(labels_by_method, data, path, random_state=0):
    """Save the comparison figure at ``path``; return the path."""
    comparison_figure(labels_by_method, data, random_state).savefig(path, dpi=100)
    return path
