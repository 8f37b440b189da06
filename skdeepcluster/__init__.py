"""Deep clustering by self-labeling, as scikit-learn estimators.

``DeepEntropyClustering`` trains a small torch network without labels by
alternating an EM pseudo-label step with a collision cross-entropy network step.
The losses and the pseudo-label solvers it rests on are public in
:mod:`skdeepcluster.losses` and :mod:`skdeepcluster.pseudo_labels`, and the
batch objectives built from them in :mod:`skdeepcluster.objectives`.
"""

__version__ = "0.1.0.dev0"

from . import (  # noqa: E402
    baselines,
    datasets,
    losses,
    metrics,
    objectives,
    pseudo_labels,
)
from ._classifier import SoftLabelClassifier  # noqa: E402
from ._estimator import DeepEntropyClustering  # noqa: E402

__all__ = [
    "DeepEntropyClustering",
    "SoftLabelClassifier",
    "baselines",
    "datasets",
    "losses",
    "metrics",
    "objectives",
    "pseudo_labels",
    "__version__",
]
