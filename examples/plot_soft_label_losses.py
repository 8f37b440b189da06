"""
Collision versus Shannon cross-entropy on soft labels
=====================================================

Self-labeling trains a network on *soft* pseudo-labels ``y``: distributions
over the clusters, uncertain for ambiguous points. The loss decides what the
network learns from such a target.

* The Shannon cross-entropy :func:`~skdeepcluster.losses.cross_entropy`,
  ``H(y, σ) = -Σ_k y_k ln σ_k``, is minimal at ``σ = y``: it teaches the
  network to copy the target's uncertainty.
* The collision cross-entropy
  :func:`~skdeepcluster.losses.collision_cross_entropy`,
  ``H₂(y, σ) = -ln Σ_k y_k σ_k``, is minus the log-probability that a class
  drawn from the prediction equals one drawn from the target. It is minimal
  at the one-hot of the target's most likely class, and a uniform target
  gives it exactly zero gradient: a point nobody can label leaves the model
  unchanged.

This example uses the losses alone, with a small torch loop.
"""

# %%
# The loss as a function of the prediction
# ----------------------------------------
# Two classes, target ``y = (0.7, 0.3)``, prediction ``σ = (p, 1 - p)``.
import matplotlib.pyplot as plt
import numpy as np
import torch

from skdeepcluster.losses import collision_cross_entropy, cross_entropy

p = torch.linspace(0.01, 0.99, 197, dtype=torch.float64)
logits = torch.stack([torch.log(p), torch.log1p(-p)], dim=1)
target = torch.tensor([[0.7, 0.3]], dtype=torch.float64).expand(len(p), 2)

fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
ax.plot(p, cross_entropy(logits, target, reduction="none"),
        label="Shannon  H(y, σ): minimum at p = 0.7")
ax.plot(p, collision_cross_entropy(logits, target, reduction="none"),
        label="collision  H₂(y, σ): decreasing to p = 1")
ax.axvline(0.7, color="0.6", linestyle=":")
ax.set_xlabel("predicted probability p of class 0")
ax.set_ylabel("loss")
ax.set_title("Target y = (0.7, 0.3)")
ax.legend()
plt.show()

# %%
# Training a classifier with unlabelled points
# --------------------------------------------
# Three Gaussian classes in 2-D. A third of the points get a *uniform*
# target (nobody knows their class); the others get their one-hot class.
# The same small network, from the same initial weights, is trained on these
# targets with each loss.
rng = np.random.RandomState(0)
centers = np.array([[0.0, 2.0], [-1.8, -1.0], [1.8, -1.0]])
classes = rng.randint(3, size=300)
X = torch.tensor(centers[classes] + 0.7 * rng.randn(300, 2))
targets = torch.nn.functional.one_hot(torch.tensor(classes), 3).double()
unknown = torch.tensor(rng.rand(300) < 1 / 3)
targets[unknown] = 1 / 3


def train(loss_fn, steps=300):
    torch.manual_seed(0)  # the same initial weights for both losses
    net = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.Tanh(),
                              torch.nn.Linear(32, 3)).double()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.02)
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(net(X), targets).backward()
        optimizer.step()
    return net


nets = {"collision cross-entropy": train(collision_cross_entropy),
        "Shannon cross-entropy": train(cross_entropy)}

# %%
# The colour shows the confidence of the prediction, ``max_k σ_k`` (1/3 is a
# uniform prediction). With the Shannon loss the network learns to be unsure
# wherever unlabelled points lie, i.e. everywhere; with the collision loss
# they do not pull it, and it stays confident away from the class boundaries.
xx, yy = np.meshgrid(np.linspace(-4, 4, 150), np.linspace(-3.5, 4.5, 150))
grid = torch.tensor(np.column_stack([xx.ravel(), yy.ravel()]))
fig, axes = plt.subplots(1, 2, figsize=(10, 4.3), layout="constrained")
for ax, (name, net) in zip(axes, nets.items()):
    with torch.no_grad():
        confidence = torch.softmax(net(grid), 1).max(1).values.reshape(xx.shape)
        on_unknown = torch.softmax(net(X[unknown]), 1).max(1).values.mean()
    image = ax.contourf(xx, yy, confidence, levels=np.linspace(1 / 3, 1, 11),
                        cmap="viridis")
    ax.scatter(*X[~unknown].T, c=classes[~unknown.numpy()], cmap="tab10",
               vmin=0, vmax=9, s=10, edgecolors="w", linewidths=0.3)
    ax.scatter(*X[unknown].T, facecolors="none", edgecolors="w", s=12,
               linewidths=0.6)
    ax.set_title(f"{name}\nmean confidence on unlabelled points {on_unknown:.2f}")
fig.colorbar(image, ax=axes, label="confidence  max σ", ticks=[1 / 3, 0.5, 0.75, 1.0],
             format="{x:.2f}")
plt.show()

# %%
# Filled dots are labelled points, hollow dots the points with a uniform
# target. :func:`~skdeepcluster.losses.collision_cross_entropy` computes the
# loss as ``-logsumexp(log_softmax(z) + ln y)``, so it stays finite for
# extreme logits and accepts targets with exact zeros.
