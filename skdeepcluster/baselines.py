"""scikit-learn clusterers to compare DeepEntropyClustering with.

One definition per name, shared by the command line (``skdeepcluster
compare``) and the benchmarks (``benchmarks/run_quality.py``), so that a
figure quoted for "spectral" means the same estimator everywhere:

========================  =====================================================
name                      estimator
========================  =====================================================
``"kmeans"``              :class:`~sklearn.cluster.KMeans` with ``n_init=10``
``"gmm"``                 :class:`~sklearn.mixture.GaussianMixture` with
                          ``covariance_type="diag"`` (one initialisation,
                          ``n_init=1``)
``"agglomerative"``       :class:`~sklearn.cluster.AgglomerativeClustering` with
                          Ward linkage
``"spectral"``            :class:`~sklearn.cluster.SpectralClustering` on a
                          10-nearest-neighbour affinity graph
                          (``affinity="nearest_neighbors"``, ``n_neighbors=10``),
                          labels assigned by k-means (``assign_labels="kmeans"``)
``"umap+gmm"``            a :class:`~sklearn.pipeline.Pipeline`: a 10-D UMAP
                          embedding (``umap.UMAP(n_components=10,
                          min_dist=0.0)``), then a GaussianMixture with full
                          covariances (N2D's recipe without its autoencoder)
``"umap+kmeans"``         the same UMAP embedding, then the ``"kmeans"`` baseline
========================  =====================================================

Every other parameter keeps scikit-learn's default. The UMAP baselines need
the optional ``umap-learn`` package (``pip install umap-learn``, or the
``benchmarks`` extra); it is imported only when one of them is made.

.. versionadded:: 0.1
"""

from numbers import Integral

from sklearn.cluster import AgglomerativeClustering, KMeans, SpectralClustering
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import Interval, validate_params

__all__ = ["BASELINES", "OPTIONAL_BASELINES", "make_baseline"]

#: Names :func:`make_baseline` knows, in the order tables show them.
BASELINES = ("kmeans", "gmm", "agglomerative", "spectral", "umap+gmm", "umap+kmeans")

#: The names of :data:`BASELINES` that need the optional ``umap-learn``.
OPTIONAL_BASELINES = ("umap+gmm", "umap+kmeans")

# Baselines whose memory or time grows quadratically with the number of
# samples, and the most samples make_baseline accepts for them.
_MAX_SAMPLES = {"agglomerative": 20_000, "spectral": 20_000}


def _umap(name, random_state):
    try:
        from umap import UMAP
    except ImportError as exc:
        raise ImportError(
            f"The {name!r} baseline needs umap-learn, which is not installed: "
            "pip install umap-learn (or install skdeepcluster's benchmarks "
            "extra: pip install 'skdeepcluster[benchmarks]')."
        ) from exc
    return UMAP(n_components=10, min_dist=0.0, random_state=random_state)


@validate_params(
    {
        "name": [str],
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "n_samples": [Interval(Integral, 1, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
def make_baseline(name, n_clusters, *, random_state=None, n_samples=None):
    """Build the baseline clusterer of a name, unfitted.

    The names and the estimators they stand for are listed in
    :mod:`skdeepcluster.baselines`.

    .. versionadded:: 0.1

    Parameters
    ----------
    name : str
        One of :data:`BASELINES`: ``"kmeans"``, ``"gmm"``,
        ``"agglomerative"``, ``"spectral"``, ``"umap+gmm"`` or
        ``"umap+kmeans"``; case does not matter (``"UMAP+GMM"``).

    n_clusters : int
        Number of clusters (``n_components`` of a GaussianMixture).

    random_state : int, RandomState instance or None, default=None
        Seed of the estimator's random draws (AgglomerativeClustering has
        none). Pass an int for reproducible results.

    n_samples : int, default=None
        Number of samples the baseline is meant to cluster. When given, the
        baselines whose memory or time grows quadratically with it
        (``"agglomerative"`` and ``"spectral"``) raise a ValueError above
        20,000 samples instead of exhausting the machine.

    Returns
    -------
    estimator : estimator
        An unfitted scikit-learn clusterer with ``fit`` and ``fit_predict``
        (a :class:`~sklearn.pipeline.Pipeline` for the UMAP baselines).

    Raises
    ------
    ValueError
        If `name` is unknown, or `n_samples` is too large for it.
    ImportError
        If a UMAP baseline is asked for and umap-learn is not installed.

    Examples
    --------
    >>> from skdeepcluster.baselines import make_baseline
    >>> make_baseline("kmeans", 3, random_state=0)
    KMeans(n_clusters=3, n_init=10, random_state=0)
    >>> make_baseline("gmm", 3, random_state=0)
    GaussianMixture(covariance_type='diag', n_components=3, random_state=0)
    """
    key = name.lower()
    if key not in BASELINES:
        raise ValueError(
            f"Unknown baseline name={name!r}; choose from "
            f"{', '.join(map(repr, BASELINES))}."
        )
    limit = _MAX_SAMPLES.get(key)
    if n_samples is not None and limit is not None and n_samples > limit:
        raise ValueError(
            f"The {key!r} baseline needs memory or time quadratic in the number "
            f"of samples: n_samples={n_samples} is above its limit of {limit}; "
            "cluster a subset of the data."
        )
    if key == "kmeans":
        return KMeans(n_clusters, n_init=10, random_state=random_state)
    if key == "gmm":
        return GaussianMixture(
            n_clusters, covariance_type="diag", random_state=random_state
        )
    if key == "agglomerative":
        return AgglomerativeClustering(n_clusters, linkage="ward")
    if key == "spectral":
        return SpectralClustering(
            n_clusters,
            affinity="nearest_neighbors",
            n_neighbors=10,
            assign_labels="kmeans",
            random_state=random_state,
        )
    # "umap+gmm", "umap+kmeans": the embedding, then a mixture with full
    # covariances (cheap in 10 dimensions) or the plain KMeans baseline
    embedding = _umap(key, random_state)
    if key == "umap+gmm":
        final = GaussianMixture(n_clusters, covariance_type="full",
                                random_state=random_state)
    else:
        final = make_baseline("kmeans", n_clusters, random_state=random_state)
    return make_pipeline(embedding, final)
