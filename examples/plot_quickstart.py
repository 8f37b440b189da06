"""
Quickstart: deep clustering of handwritten digits
=================================================

:class:`~skdeepcluster.DeepEntropyClustering` is a scikit-learn clusterer:
``fit`` on unlabelled data, then read ``labels_`` or call ``predict`` and
``predict_proba`` on new data. Here it clusters scikit-learn's 1,797 digits
(8x8 pixels) into 10 clusters, next to :class:`~sklearn.cluster.KMeans`. The
true digits are used only at the end, to score the clusterings.
"""

# %%
# Fit both clusterers
# -------------------
import matplotlib.pyplot as plt
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits

from skdeepcluster import DeepEntropyClustering
from skdeepcluster.metrics import clustering_report
from skdeepcluster.plotting import plot_confusion

X, y = load_digits(return_X_y=True)

deep = DeepEntropyClustering(n_clusters=10, random_state=0).fit(X)
kmeans = KMeans(n_clusters=10, n_init=10, random_state=0).fit(X)

# %%
# Score them against the true digits
# ----------------------------------
# Cluster numbers are arbitrary, so the accuracy (ACC) first matches clusters
# to digits one-to-one (Hungarian algorithm); NMI and ARI need no matching.
for name, labels in [("DeepEntropyClustering", deep.labels_),
                     ("KMeans", kmeans.labels_)]:
    report = clustering_report(y, labels)
    print(f"{name:>22}: " + ", ".join(f"{k} {v:.3f}" for k, v in report.items()))

# %%
# The unsupervised score needs no labels: it is the mutual information
# between the input and the predicted cluster (at most ``ln 10 = 2.30``).
print(f"epochs run: {deep.n_iter_}, MI score: {deep.score(X):.3f}")

# %%
# Where the clusterings err
# -------------------------
# Each panel shows how the digits (rows) fall into the clusters (columns),
# with each cluster placed under the digit it is matched to.
fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")
plot_confusion(y, deep.labels_, ax=axes[0])
axes[0].set_title(f"DeepEntropyClustering, {axes[0].get_title()}")
plot_confusion(y, kmeans.labels_, ax=axes[1])
axes[1].set_title(f"KMeans, {axes[1].get_title()}")
plt.show()

# %%
# Soft assignments
# ----------------
# ``predict_proba`` gives each point's distribution over clusters. Most digits
# are assigned with confidence; the uncertain ones are the candidates for
# review.
confidence = deep.predict_proba(X).max(axis=1)
fig, ax = plt.subplots(figsize=(6, 3.2), layout="constrained")
ax.hist(confidence, bins=30)
ax.set_xlabel("largest cluster probability")
ax.set_ylabel("number of digits")
plt.show()
