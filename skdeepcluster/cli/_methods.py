"""The clusterers ``compare`` runs: their names, and the estimators they are.

The deep model is :class:`~skdeepcluster.DeepEntropyClustering`; every other
method is a baseline of :func:`skdeepcluster.baselines.make_baseline`, so the
command line and the benchmarks mean the same estimator by the same name.
"""

import math

from .. import DeepEntropyClustering
from .._base import resolve_device
from .._networks import resolve_image_shape
from ..baselines import OPTIONAL_BASELINES, make_baseline
from ._messages import InputError, one_line

#: ``--methods`` names in the order they run: name -> (estimator, what it is).
METHODS = {
    "deep": ("DeepEntropyClustering", "this package's deep model"),
    "kmeans": ("KMeans", "n_init=10"),
    "gmm": ("GaussianMixture", "diagonal covariances"),
    "agglomerative": ("AgglomerativeClustering", "Ward linkage"),
    "spectral": ("SpectralClustering", "10-nearest-neighbour graph, k-means labels"),
    "umap+gmm": ("UMAP+GaussianMixture", "gmm on a 10-D UMAP embedding"),
    "umap+kmeans": ("UMAP+KMeans", "kmeans on a 10-D UMAP embedding"),
}
DEFAULT_METHODS = ("deep", "kmeans")
#: What ``--methods all`` runs: the methods that need no optional package.
ALL_METHODS = tuple(name for name in METHODS if name not in OPTIONAL_BASELINES)

_ALIASES = {
    alias.lower(): name
    for name, (estimator, _) in METHODS.items()
    for alias in (name, estimator)
}


def estimator_name(method):
    """The estimator's name of a method, as tables and files show it."""
    return METHODS[method][0]


def parse_methods(text):
    """The method names of a comma-separated ``--methods`` value.

    Short names, estimator names (any case) and ``all`` are accepted; repeats
    are dropped. Raises ValueError for an unknown name.
    """
    names = [name.strip() for name in text.split(",") if name.strip()]
    if [name.lower() for name in names] == ["all"]:
        return list(ALL_METHODS)
    unknown = [name for name in names if name.lower() not in _ALIASES]
    if unknown or not names:
        raise ValueError(
            f"unknown method {', '.join(map(repr, unknown)) or repr(text)}; "
            f"choose from {', '.join(METHODS)} (or their estimator names) or "
            "'all'"
        )
    return list(dict.fromkeys(_ALIASES[name.lower()] for name in names))


def check_device(device):
    """Fail with the command's error when torch cannot use ``device`` here."""
    try:
        resolve_device(device)
    except ValueError as exc:
        if isinstance(exc.__cause__, RuntimeError):  # a name torch does not know
            raise InputError(
                f"--device {device!r} is not a torch device; use auto, cpu, cuda "
                "or cuda:N"
            ) from exc
        raise InputError(one_line(exc)) from exc


def check_image_shape(text):
    """The tuple of an ``--image-shape`` value; ValueError when malformed."""
    expected = ("expected HEIGHT,WIDTH or CHANNELS,HEIGHT,WIDTH of positive "
                f"integers, got {text!r}")
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(","))
        # the library's rule, without the data: their size is checked later
        resolve_image_shape(shape, math.prod(shape))
    except ValueError:
        raise ValueError(expected) from None
    return shape


def _image_shape(args, data):
    """The image shape the deep model gets: None unless it uses images."""
    if args.model == "conv":
        needed_by, option = "model='conv'", "--model conv"
    elif args.augment == "affine":
        needed_by, option = "augment='affine'", "--augment affine"
    else:
        return None
    image_shape = args.image_shape or data.image_shape
    try:
        resolve_image_shape(image_shape, data.X.shape[1], needed_by=needed_by)
    except ValueError as exc:
        message = one_line(exc)
        if not message.startswith(option):
            message = f"{option} needs images: {message}"
        raise InputError(message) from exc
    return image_shape


def make_estimators(args, data, n_clusters):
    """The unfitted estimators of ``args.methods``, by estimator name."""
    baselines = {}
    for method in args.methods:
        if method == "deep":
            continue
        try:
            baselines[method] = make_baseline(
                method, n_clusters, random_state=args.random_state,
                n_samples=data.X.shape[0],
            )
        except ValueError as exc:
            raise InputError(
                f"--methods {method}: {one_line(exc)} (see --subset)"
            ) from exc
        except ImportError as exc:
            raise InputError(f"--methods {method}: {one_line(exc)}") from exc
    image_shape = _image_shape(args, data)
    estimators = {}
    for method in args.methods:
        if method == "deep":
            check_device(args.device)
            params = {"random_state": args.random_state, "model": args.model,
                      "device": args.device, "image_shape": image_shape,
                      "augment": args.augment, "n_jobs": args.n_jobs,
                      # its progress bar on stderr, unless --quiet
                      "verbose": 0 if args.quiet else 1}
            if args.max_iter is not None:
                params["max_iter"] = args.max_iter
            if args.n_init is not None:
                params["n_init"] = args.n_init
            if args.n_subclusters is not None:
                if args.n_subclusters < n_clusters:
                    raise InputError(
                        f"--n-subclusters {args.n_subclusters} is fewer than the "
                        f"{n_clusters} clusters; the subclusters are joined "
                        "into them")
                params["n_subclusters"] = args.n_subclusters
            if args.spectral_head:
                params["spectral_head"] = True
            estimators[estimator_name(method)] = DeepEntropyClustering(
                n_clusters, **params)
        else:
            estimators[estimator_name(method)] = baselines[method]
    return estimators
