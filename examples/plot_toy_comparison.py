"""
Comparing clusterers on 2-D toy problems
========================================

Five small 2-D problems from :func:`~skdeepcluster.datasets.make_toy_datasets`
(one per row) clustered by :class:`~skdeepcluster.DeepEntropyClustering` and
four scikit-learn clusterers (one per column), each told the true number of
clusters. The first column shows the regions the deep model assigns to each
cluster (:func:`~skdeepcluster.plotting.plot_decision_map`): unlike the
other methods here, it is a classifier of new points once trained. Each panel
gives the accuracy under the best cluster-to-class match and the fit time.

The scores tell where each method's assumptions hold. K-means and the
Gaussian mixture favour compact, convex clusters; spectral clustering follows
the nearest-neighbour graph; the deep model draws the boundaries of a small
network trained for confident, balanced predictions, with the pairing of each
point with a near neighbour as its notion of connectedness.
"""

import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.cluster import AgglomerativeClustering, KMeans, SpectralClustering
from sklearn.mixture import GaussianMixture

from skdeepcluster import DeepEntropyClustering
from skdeepcluster.datasets import make_toy_datasets
from skdeepcluster.metrics import clustering_accuracy
from skdeepcluster.plotting import plot_decision_map

problems = make_toy_datasets(n_samples=400, random_state=0)


def clusterers(k):
    return {
        "DeepEntropyClustering": DeepEntropyClustering(
            n_clusters=k, n_init=1, random_state=0
        ),
        "KMeans": KMeans(n_clusters=k, n_init=10, random_state=0),
        "GaussianMixture": GaussianMixture(n_components=k, random_state=0),
        "Agglomerative (Ward)": AgglomerativeClustering(n_clusters=k),
        "Spectral": SpectralClustering(
            n_clusters=k, affinity="nearest_neighbors", random_state=0
        ),
    }


n_rows, n_cols = len(problems), len(clusterers(2))
fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.6 * n_cols, 2.5 * n_rows),
                         layout="constrained")
for row, (problem, (X, y)) in enumerate(problems.items()):
    k = len(np.unique(y))
    for col, (name, model) in enumerate(clusterers(k).items()):
        ax = axes[row, col]
        start = time.perf_counter()
        with warnings.catch_warnings():
            # spectral clustering warns when the neighbour graph is disconnected
            warnings.simplefilter("ignore", UserWarning)
            labels = model.fit_predict(X)
        elapsed = time.perf_counter() - start
        if col == 0:
            plot_decision_map(model, X, ax=ax, resolution=120)
        else:
            ax.scatter(X[:, 0], X[:, 1], c=labels, cmap="tab10", vmin=0, vmax=9,
                       s=6)
        ax.set(xticks=[], yticks=[], xlabel="", ylabel="")
        ax.text(0.98, 0.02, f"ACC {clustering_accuracy(y, labels):.2f}\n"
                f"{elapsed:.2f} s", transform=ax.transAxes, ha="right",
                va="bottom", fontsize="small",
                bbox={"facecolor": "white", "alpha": 0.7, "linewidth": 0})
        if row == 0:
            ax.set_title(name, fontsize="medium")
        if col == 0:
            ax.set_ylabel(problem)
plt.show()
