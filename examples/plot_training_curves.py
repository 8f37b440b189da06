"""
Watching training: the per-epoch history
========================================

Every epoch of :class:`~skdeepcluster.DeepEntropyClustering` appends a dict
to ``history_``: the training ``loss``, the ``score`` (mutual information of
the predictions on the training data, higher is better), the fraction of
points whose pseudo-label changed (``change``, which drives early stopping
with ``tol`` and ``n_iter_no_change``), the ``cluster_sizes`` and their
``balance`` (smallest over largest), and the epoch's ``time`` in seconds.
Pass ``verbose=1`` to see the same numbers live, in a progress bar.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from skdeepcluster import DeepEntropyClustering
from skdeepcluster.plotting import plot_cluster_sizes, plot_training_history

X, y = load_digits(return_X_y=True)
model = DeepEntropyClustering(n_clusters=10, max_iter=40, n_init=1, random_state=0)
model.fit(X)
print(f"{model.n_iter_} epochs; last epoch:")
print({k: v for k, v in model.history_[-1].items() if k != "cluster_sizes"})

# %%
# Loss and score
# --------------
# The loss falls while the mutual information rises towards its ceiling
# ``ln 10 ≈ 2.30``; when both level off, more epochs buy little.
ax = plot_training_history(model)
plt.show()

# %%
# Stability and balance
# ---------------------
# ``change`` shows how quickly the pseudo-labels settle; the sizes show
# whether the fairness term keeps every cluster populated.
change = [h["change"] for h in model.history_]
sizes = np.array([h["cluster_sizes"] for h in model.history_])
epochs = np.arange(1, len(change) + 1)
fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), layout="constrained")
axes[0].semilogy(epochs, np.maximum(change, 1e-4), marker=".")
axes[0].axhline(model.tol, color="0.5", linestyle="--", label="tol")
axes[0].set(xlabel="epoch", ylabel="fraction of labels changed",
            title="Pseudo-label changes")
axes[0].legend()
axes[1].plot(epochs, sizes, linewidth=1)
axes[1].set(xlabel="epoch", ylabel="points", title="Cluster sizes per epoch")
plot_cluster_sizes(model, ax=axes[2])
plt.show()
