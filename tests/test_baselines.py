"""The baseline clusterers shared by the command line and the benchmarks."""

import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.cluster import AgglomerativeClustering, KMeans, SpectralClustering
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from skdeepcluster.baselines import BASELINES, OPTIONAL_BASELINES, make_baseline

REQUIRED = [name for name in BASELINES if name not in OPTIONAL_BASELINES]


def _umap_importable():
    try:
        import umap  # noqa: F401
    except ImportError:
        return False
    return True


def _n_clusters(estimator):
    final = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    if isinstance(final, GaussianMixture):
        return final.n_components
    return final.n_clusters


def test_names():
    assert BASELINES == ("kmeans", "gmm", "agglomerative", "spectral",
                         "umap+gmm", "umap+kmeans")
    assert set(OPTIONAL_BASELINES) <= set(BASELINES)


@pytest.mark.parametrize("name", REQUIRED)
def test_unfitted_estimator_with_n_clusters(name):
    estimator = make_baseline(name, 4, random_state=0)
    assert _n_clusters(estimator) == 4
    with pytest.raises(NotFittedError):
        check_is_fitted(estimator)
    assert _n_clusters(clone(estimator)) == 4


@pytest.mark.parametrize(
    "name, cls, params",
    [
        ("kmeans", KMeans, {"n_init": 10, "random_state": 3}),
        ("gmm", GaussianMixture, {"covariance_type": "diag", "n_init": 1,
                                  "random_state": 3}),
        ("agglomerative", AgglomerativeClustering, {"linkage": "ward"}),
        ("spectral", SpectralClustering, {
            "affinity": "nearest_neighbors", "n_neighbors": 10,
            "assign_labels": "kmeans", "random_state": 3}),
    ],
)
def test_definitions(name, cls, params):
    estimator = make_baseline(name, 5, random_state=3)
    assert type(estimator) is cls
    assert params.items() <= estimator.get_params().items()


@pytest.mark.filterwarnings("ignore:Graph is not fully connected:UserWarning")
@pytest.mark.parametrize("name", REQUIRED)
def test_fit_predict_blobs(name):
    rng = np.random.RandomState(0)
    centers = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
    y = np.repeat(np.arange(3), 20)
    X = centers[y] + rng.randn(60, 2)
    labels = make_baseline(name, 3, random_state=0).fit_predict(X)
    assert labels.shape == (60,) and len(np.unique(labels)) == 3


def test_names_ignore_case():
    assert isinstance(make_baseline("KMeans", 3), KMeans)
    assert isinstance(make_baseline("SPECTRAL", 3), SpectralClustering)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="Unknown baseline name='magic'") as info:
        make_baseline("magic", 3)
    assert all(repr(name) in str(info.value) for name in BASELINES)


def test_invalid_n_clusters():
    with pytest.raises(ValueError, match="n_clusters"):
        make_baseline("kmeans", 0)


def test_quadratic_baselines_refuse_large_data():
    for name in ("agglomerative", "spectral"):
        make_baseline(name, 3, n_samples=20_000)
        with pytest.raises(ValueError, match="n_samples=20001 is above its limit"):
            make_baseline(name, 3, n_samples=20_001)
    assert isinstance(make_baseline("kmeans", 3, n_samples=10**6), KMeans)


@pytest.mark.parametrize("name", OPTIONAL_BASELINES)
def test_umap_baselines_without_umap(name, monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)  # import umap fails
    with pytest.raises(ImportError, match="pip install umap-learn") as info:
        make_baseline(name.upper(), 3)
    assert "skdeepcluster[benchmarks]" in str(info.value)


@pytest.mark.skipif(_umap_importable(), reason="umap-learn is installed")
def test_umap_baselines_raise_when_umap_is_absent():
    with pytest.raises(ImportError, match="needs umap-learn"):
        make_baseline("UMAP+GMM", 3)


@pytest.mark.parametrize("name, final", [("umap+gmm", GaussianMixture),
                                          ("umap+kmeans", KMeans)])
def test_umap_baselines(name, final):
    pytest.importorskip("umap")
    estimator = make_baseline(name, 4, random_state=0)
    assert isinstance(estimator, Pipeline)
    embedding = estimator[0]
    assert (embedding.n_components, embedding.min_dist) == (10, 0.0)
    assert embedding.random_state == 0
    assert type(estimator[-1]) is final and _n_clusters(estimator) == 4
    if final is GaussianMixture:
        assert estimator[-1].covariance_type == "full"
    with pytest.raises(NotFittedError):
        check_is_fitted(estimator)
