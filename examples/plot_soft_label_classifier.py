"""
===============================================
Soft labels: collision vs Shannon cross-entropy
===============================================

Some annotations are uncertain: an annotator could not decide, or hesitated
between two classes. :class:`~skdeepcluster.SoftLabelClassifier` takes such
labels as a matrix of probabilities, one row per sample. The loss decides what
the network learns from them:

- the Shannon cross-entropy ``-Σ_k y_k ln σ_k`` is minimised by ``σ = y``: the
  network learns to *copy* the uncertainty, and predicts "don't know" near the
  uncertain samples;
- the collision cross-entropy ``-ln Σ_k y_k σ_k`` is minus the log-probability
  that the predicted class equals the annotated one. A uniform target gives it
  exactly zero gradient (the sample is ignored), and a target split between
  two classes lets the network pick one.
"""

# %%
# Uncertain targets on a 2-D toy problem
# --------------------------------------
# Three Gaussian classes; half of the training points get a uniform target
# (grey crosses) and only the other half keep their class (coloured dots).

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits, make_blobs
from sklearn.model_selection import train_test_split

from skdeepcluster import SoftLabelClassifier

X, y = make_blobs(n_samples=300, centers=3, cluster_std=1.3, random_state=2)
Y = np.eye(3)[y]
unsure = np.random.default_rng(0).random(len(y)) < 0.5
Y[unsure] = 1 / 3

xx, yy = np.meshgrid(
    np.linspace(X[:, 0].min() - 1, X[:, 0].max() + 1, 150),
    np.linspace(X[:, 1].min() - 1, X[:, 1].max() + 1, 150),
)
grid = np.c_[xx.ravel(), yy.ravel()]

fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharey=True, layout="constrained")
for ax, loss in zip(axes, ["collision", "shannon"]):
    clf = SoftLabelClassifier(loss=loss, max_iter=100, n_iter_no_change=0,
                              random_state=0).fit(X, Y)
    confidence = clf.predict_proba(grid).max(axis=1).reshape(xx.shape)
    image = ax.contourf(xx, yy, confidence, levels=np.linspace(1 / 3, 1, 11),
                        cmap="Greys_r")
    ax.scatter(*X[~unsure].T, c=y[~unsure], cmap="viridis", s=12)
    ax.scatter(*X[unsure].T, c="tab:grey", marker="x", s=12)
    ax.set_title(f"loss={loss!r}: accuracy {clf.score(X, y):.2f}")
fig.colorbar(image, ax=axes, format="%.2f",
             label="predicted probability of the predicted class")

# %%
# With collision cross-entropy the uncertain points leave the model alone: it
# is as confident as if they were absent. Shannon cross-entropy teaches the
# network to answer "1/3 each" wherever uncertain points lie, which here is
# everywhere.
#
# Accuracy as more targets become uncertain
# -----------------------------------------
# On the digits, a growing fraction of the training targets is made uniform;
# the test labels are clean. (The benchmark ``benchmarks/bench_soft_labels.py``
# repeats this over 5 seeds, on MNIST too, and with targets split between the
# true class and a wrong one.)

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
fractions = [0.0, 0.2, 0.4, 0.6, 0.8]
scores = {"collision": [], "shannon": []}
rng = np.random.default_rng(0)
order = rng.permutation(len(y_train))
for fraction in fractions:
    Y_train = np.eye(10)[y_train]
    Y_train[order[: int(fraction * len(y_train))]] = 1 / 10
    for loss, values in scores.items():
        clf = SoftLabelClassifier(loss=loss, max_iter=20, n_iter_no_change=0,
                                  random_state=0).fit(X_train, Y_train)
        values.append(clf.score(X_test, y_test))

fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
for loss, values in scores.items():
    ax.plot(fractions, values, marker="o", label=loss)
ax.set_xlabel("fraction of training targets made uniform")
ax.set_ylabel("test accuracy")
ax.legend()
plt.show()
