"""
Margins: entropy clustering is not k-means
==========================================

A 1-D problem with two groups of 50 evenly spaced points: one on ``[0, 1]``,
one on ``[3, 10]``. Exact 2-means balances the variances and puts its
threshold at about 3.93, cutting the wide right group. Clustering by mutual
information with a linear softmax, ``σ(x) = softmax(w x + b)``, instead looks
for a confident, balanced split, which a boundary anywhere in the empty gap
``(1, 3)`` achieves.

Which boundary in the gap? Without a penalty on ``w`` there is no preferred
one: for any boundary in the gap the loss tends to zero as ``‖w‖`` grows, so
the margin it settles on is narrow and not unique. A small penalty
``γ ‖w‖²`` (weight decay on the last layer; the ``margin_weight`` parameter of
:class:`~skdeepcluster.DeepEntropyClustering`) makes the problem well posed:
it trades confidence against the norm, as a support vector machine does, and
picks one wide-margin boundary inside the gap.

The loss below is the library's ``-MI + ln K`` =
:func:`~skdeepcluster.losses.entropy` +
:func:`~skdeepcluster.losses.weak_fairness`, trained by a small torch loop.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.cluster import KMeans

from skdeepcluster import DeepEntropyClustering
from skdeepcluster.losses import entropy, weak_fairness

x_np = np.concatenate([np.linspace(0, 1, 50), np.linspace(3, 10, 50)])
x = torch.tensor(x_np)[:, None]

kmeans = KMeans(n_clusters=2, n_init=10, random_state=0).fit(x_np[:, None])
kmeans_threshold = kmeans.cluster_centers_.ravel().mean()


def mi_loss(scale, boundary):
    """Entropy-clustering loss of the classifier sign(x - boundary), sharpness scale."""
    z = scale * (x - boundary)
    logits = torch.cat([z / 2, -z / 2], dim=1)  # ‖w‖ difference = scale
    return entropy(logits) + weak_fairness(logits)


# %%
# The loss landscape
# ------------------
# For a boundary ``t`` and a sharpness ``s`` (the difference of the two
# weights), the logits are ``± s (x - t) / 2``. Without a penalty (left), the
# loss is flat near zero over the whole gap once ``s`` is large: every
# boundary there is as good. With ``γ = 1e-3`` (right), minimising over ``s``
# for each ``t`` leaves a single best boundary.
boundaries = np.linspace(0.2, 4.8, 185)
scales = [1.0, 3.0, 10.0, 30.0]
penalty = 1e-3
fine_scales = np.geomspace(0.3, 100, 60)
with torch.no_grad():
    landscape = np.array([[float(mi_loss(s, t)) for t in boundaries]
                          for s in fine_scales])
penalised = (landscape + penalty * fine_scales[:, None] ** 2).min(axis=0)
best_boundary = boundaries[penalised.argmin()]

fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
for s in scales:
    row = np.argmin(np.abs(fine_scales - s))
    axes[0].plot(boundaries, landscape[row], label=f"s = {fine_scales[row]:.0f}")
axes[0].set(xlabel="boundary t", ylabel="loss", title="No penalty")
axes[0].legend()
axes[1].plot(boundaries, penalised, color="C3")
axes[1].axvline(best_boundary, color="C3", linestyle=":")
axes[1].set(xlabel="boundary t", ylabel="min over s of loss + γ s²",
            title=f"Penalty γ = {penalty:g}: best t ≈ {best_boundary:.2f}")
for ax in axes:
    ax.axvspan(1, 3, color="0.9", zorder=0)
plt.show()

# %%
# Training from different starts
# ------------------------------
# Gradient descent (Adam) on ``w`` and ``b`` from five starting boundaries,
# begun already sharp (``s = 20``). Without the penalty the runs end at
# different boundaries, where they drift ever more slowly; with it, all of
# them reach the same boundary, at a moderate sharpness ``s``.


def train(penalty, start, steps=600):
    w = torch.tensor([[10.0, -10.0]], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([-10.0 * start, 10.0 * start], dtype=torch.float64,
                     requires_grad=True)
    optimizer = torch.optim.Adam([w, b], lr=0.05)
    path = []
    for _ in range(steps):
        logits = x @ w + b
        loss = entropy(logits) + weak_fairness(logits) + penalty * (w**2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            path.append(float((b[1] - b[0]) / (w[0, 0] - w[0, 1])))
    return np.array(path), float((w[0, 0] - w[0, 1]).detach())


starts = [1.3, 1.7, 2.1, 2.5, 2.8]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained",
                         sharey=True)
for ax, gamma in zip(axes, [0.0, penalty]):
    for start in starts:
        path, sharpness = train(gamma, start)
        ax.plot(path)
        print(f"γ = {gamma:g}: start {start:.1f} -> boundary {path[-1]:.3f}, "
              f"s = {sharpness:.1f}")
    ax.axhspan(1, 3, color="0.9", zorder=0)
    ax.set(xlabel="step", title=f"γ = {gamma:g}")
axes[0].set_ylabel("boundary")
plt.show()

# %%
# The estimator
# -------------
# :class:`~skdeepcluster.DeepEntropyClustering` with ``model="linear"`` is this
# classifier trained by self-labeling, with the collision loss instead of the
# mutual information; it standardises ``x`` first, so its ``margin_weight`` is
# on another scale. Its boundary also falls in the gap, where 2-means does
# not. Early stopping is turned off (``n_iter_no_change=0``): it watches
# the labels, which settle long before the boundary has moved to its place in
# the gap.
model = DeepEntropyClustering(
    n_clusters=2, model="linear", n_neighbors=0, margin_weight=1e-3,
    batch_size=100, max_iter=1000, learning_rate_init=0.05, n_iter_no_change=0,
    n_init=1, random_state=0,
).fit(x_np[:, None])
grid = np.linspace(-0.5, 10.5, 2201)
proba = model.predict_proba(grid[:, None])[:, 0]
model_boundary = grid[np.argmin(np.abs(proba - 0.5))]

fig, ax = plt.subplots(figsize=(10, 2.4), layout="constrained")
ax.scatter(x_np, np.zeros_like(x_np), c=kmeans.labels_, cmap="coolwarm", s=15)
lines = [(kmeans_threshold, "2-means", "k"),
         (best_boundary, "entropy clustering, γ = 1e-3", "C3"),
         (model_boundary, "DeepEntropyClustering(model='linear')", "C2")]
for value, name, color in lines:
    ax.axvline(value, color=color, linestyle="--", label=f"{name}: {value:.2f}")
ax.set(yticks=[], xlabel="x", title="Points coloured by 2-means")
ax.legend(loc="upper right", fontsize="small")
plt.show()
