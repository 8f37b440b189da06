"""skdeepcluster.plotting, drawn with the Agg backend."""

import sys

import numpy as np
import pytest
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError

from skdeepcluster import DeepEntropyClustering, plotting

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fitted():
    X, y = make_blobs(n_samples=120, centers=3, random_state=0)
    model = DeepEntropyClustering(n_clusters=3, n_init=1, max_iter=15,
                                  random_state=0).fit(X)
    return model, X, y


def test_training_history_from_estimator_and_list(fitted):
    model, _, _ = fitted
    ax = plotting.plot_training_history(model)
    loss_line = ax.get_lines()[0]
    np.testing.assert_allclose(loss_line.get_ydata(),
                               [h["loss"] for h in model.history_])
    twin = [a for a in ax.figure.axes if a is not ax]
    assert len(twin) == 1
    np.testing.assert_allclose(twin[0].get_lines()[0].get_ydata(),
                               [h["score"] for h in model.history_])
    # a plain history without scores: one curve, on the given Axes
    _, given = plt.subplots()
    assert plotting.plot_training_history([{"loss": 1.0}, {"loss": 0.5}],
                                          ax=given) is given
    assert len(given.figure.axes) == 1


def test_training_history_errors():
    with pytest.raises(NotFittedError):
        plotting.plot_training_history(DeepEntropyClustering())
    with pytest.raises(ValueError, match="per-epoch dicts"):
        plotting.plot_training_history([])


def test_cluster_sizes_counts_empty_clusters(fitted):
    ax = plotting.plot_cluster_sizes([0, 0, 3])
    assert [p.get_height() for p in ax.patches] == [2, 0, 0, 1]
    model, X, _ = fitted
    ax = plotting.plot_cluster_sizes(model)
    assert sum(p.get_height() for p in ax.patches) == len(X)
    assert len(ax.patches) == model.n_clusters
    # arbitrary labels (strings, noise -1) are shown as categories
    ax = plotting.plot_cluster_sizes(np.array([-1, -1, 5, 5, 5]))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["-1", "5"]
    assert "balance" in ax.get_title()


def test_confusion_puts_matched_clusters_on_the_diagonal():
    true = np.repeat([0, 1, 2], 10)
    pred = np.array([2] * 10 + [0] * 9 + [1] + [1] * 10)
    ax = plotting.plot_confusion(true, pred)
    image = ax.get_images()[0].get_array()
    np.testing.assert_array_equal(np.diag(image), [10, 9, 10])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "0", "1"]
    assert ax.get_title() == "ACC = 0.967"
    assert len(ax.texts) == 9


def test_confusion_with_more_clusters_than_classes():
    true = [0, 0, 1, 1]
    pred = [5, 6, 7, 7]
    ax = plotting.plot_confusion(true, pred, annotate=False)
    assert ax.get_images()[0].get_array().shape == (2, 3)
    assert [t.get_text() for t in ax.get_xticklabels()][1] == "7"
    assert len(ax.texts) == 0


def test_decision_map(fitted):
    model, X, _ = fitted
    _, ax = plt.subplots()
    assert plotting.plot_decision_map(model, X, ax=ax, resolution=30) is ax
    assert len(ax.collections) >= 2  # filled contours and the scatter
    kmeans = KMeans(3, n_init=1, random_state=0).fit(X)
    plotting.plot_decision_map(kmeans, X, resolution=20)


def test_decision_map_errors(fitted):
    model, X, _ = fitted
    with pytest.raises(ValueError, match="2-D data"):
        plotting.plot_decision_map(model, np.hstack([X, X]))
    with pytest.raises(TypeError, match="no predict method"):
        plotting.plot_decision_map(AgglomerativeClustering(3).fit(X), X)
    with pytest.raises(NotFittedError):
        plotting.plot_decision_map(KMeans(3), X)


def test_clear_error_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plotting.plot_cluster_sizes([0, 1])
