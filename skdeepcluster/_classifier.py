"""SoftLabelClassifier: a torch classifier for hard, soft or imbalanced labels."""

from __future__ import annotations

import copy
from numbers import Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d, validate_data

from ._base import (
    BaseDeepEstimator,
    check_float32_range,
    draw_seeds,
    resolve_device,
)
from ._inference import predict_logits
from ._networks import resolve_image_shape
from ._warn import warn_user
from .objectives import Supervised

#: ``gamma=None`` resolves to these per loss.
_DEFAULT_GAMMA = {"complement": -1.0, "focal": 2.0}

#: Losses that take class labels only.
_HARD_ONLY = ("complement", "focal")

#: Rows of a soft-label matrix must sum to 1 within this tolerance.
_ROW_SUM_TOL = 1e-4


class _AsFloat64(torch.nn.Module):
    """A float64 copy of a network, taking float32 input (inference only)."""

    def __init__(self, module):
        super().__init__()
        self.module = copy.deepcopy(module).double()

    def forward(self, x):
        return self.module(x.double())


class SoftLabelClassifier(ClassifierMixin, BaseDeepEstimator):
    """Neural-network classifier for soft (uncertain) or imbalanced labels.

    A small torch network maps each sample to a softmax over the classes and
    is trained by mini-batch Adam on one of four losses. ``y`` is either class
    labels, as for any scikit-learn classifier, or a matrix of *soft labels*:
    one probability vector per sample, for annotations that are uncertain.

    - ``"collision"``: collision cross-entropy ``-ln Σ_k y_k σ_k``, minus the
      log-probability that the predicted class equals the annotated one. A soft
      target does not teach the network to be uncertain: a uniform target
      gives exactly zero gradient, a target split between two classes lets the
      network pick either. With class labels it equals the cross-entropy.
    - ``"shannon"``: the usual cross-entropy ``-Σ_k y_k ln σ_k``; with soft
      targets the predictions learn to copy their uncertainty.
    - ``"complement"``: complement cross-entropy, the cross-entropy plus
      ``gamma / (K - 1)`` times the entropy of the predicted wrong-class
      distribution; ``gamma < 0`` flattens the wrong classes so that the true
      class stands out, meant for imbalanced training sets. Class labels only.
    - ``"focal"``: focal loss ``-(1 - σ_g)^gamma ln σ_g``, which down-weights
      well-classified samples. Class labels only.

    The network, the epoch loop, seeding and pickling are shared with
    :class:`DeepEntropyClustering`.

    Read more in the :ref:`User Guide <classification>`.

    .. versionadded:: 0.1

    Parameters
    ----------
    loss : {"collision", "shannon", "complement", "focal"}, default="collision"
        Training loss; see above. "collision" and "shannon" accept class labels
        and soft labels and coincide on class labels.
    gamma : float, default=None
        Parameter of the "complement" loss (the weight of the complement
        entropy, any real; 0 gives the cross-entropy) or of the "focal" loss
        (the focusing exponent, ``>= 0``; 0 gives the cross-entropy). None
        means -1 for "complement" and 2 for "focal". Ignored by the other
        losses.
    model : {"mlp", "conv", "linear"} or callable, default="mlp"
        The network. "conv" is a small ConvNet for images passed as flat rows
        (see ``image_shape``); "linear" a softmax regression; a callable
        ``(n_features, n_classes) -> torch.nn.Module`` builds your own.
    hidden_layer_sizes : array-like of int, default=(256,)
        Widths of the hidden layers of "mlp" (of the fully connected layers
        after the convolutions for "conv").
    image_shape : tuple of int, default=None
        ``(height, width)`` or ``(channels, height, width)`` of the images for
        ``model="conv"``; None means square, one channel.
    max_iter : int, default=500
        Maximum number of epochs.
    batch_size : int, default=128
        Mini-batch size (capped at the number of samples).
    learning_rate_init : float, default=3e-3
        Adam learning rate.
    margin_weight : float, default=1e-4
        Weight of ``||W||²`` of the network's last linear layer (its head),
        added to the loss: a margin term that keeps the logits finite on
        separable data.
    tol : float, default=1e-4
        Training stops when the epoch's training loss has not improved on the
        best epoch so far by at least ``tol`` (absolute, in nats, as in
        ``MLPClassifier``) for ``n_iter_no_change`` consecutive epochs.
    n_iter_no_change : int, default=10
        See ``tol``; 0 disables early stopping (exactly ``max_iter`` epochs).
    device : str or torch.device, default="auto"
        "auto" uses CUDA when available, else the CPU.
    random_state : int, RandomState instance or None, default=None
        Owns weight initialisation and shuffling. An int gives identical
        predictions across fits on the CPU.
    verbose : int, default=0
        1 shows per-epoch progress (tqdm when installed).
    warm_start : bool, default=False
        Continue training the fitted network on the next ``fit``; the classes
        must not change.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels; ``arange(n_classes)`` when fitted on soft labels.
    module_ : torch.nn.Module
        The trained network.
    n_iter_ : int
        Epochs run by the last ``fit``.
    history_ : list of dict
        Per epoch: ``loss`` (training loss), ``accuracy`` (training-mode
        predictions against the targets, their argmax for soft labels),
        ``time``. Continued by a warm start.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sklearn.neural_network.MLPClassifier : Cross-entropy MLP on class labels.
    DeepEntropyClustering : The same networks trained without labels.

    Notes
    -----
    Soft labels are recognised by their shape: a 2-D ``y`` with at least two
    columns. A column vector ``(n_samples, 1)`` is read as class labels, with a
    ``DataConversionWarning``. ``score`` expects class labels (for soft
    labels, ``y.argmax(axis=1)``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from skdeepcluster import SoftLabelClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = SoftLabelClassifier(random_state=0).fit(X[:1200], y[:1200])
    >>> clf.classes_
    array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    >>> bool(clf.score(X[1200:], y[1200:]) > 0.9)
    True

    Soft labels: one probability row per sample. Here a third of the training
    samples get a uniform target ("don't know"), which the collision loss
    ignores:

    >>> Y = np.eye(10)[y[:1200]]
    >>> Y[::3] = 1 / 10
    >>> clf = SoftLabelClassifier(loss="collision", random_state=0).fit(X[:1200], Y)
    >>> clf.predict_proba(X[1200:1202]).shape
    (2, 10)
    >>> bool(clf.score(X[1200:], y[1200:]) > 0.9)
    True
    """

    _parameter_constraints: dict = {
        **BaseDeepEstimator._parameter_constraints,
        "loss": [StrOptions({"collision", "shannon", "complement", "focal"})],
        "gamma": [Interval(Real, None, None, closed="neither"), None],
    }

    def __init__(
        self,
        *,
        loss="collision",
        gamma=None,
        model="mlp",
        hidden_layer_sizes=(256,),
        image_shape=None,
        max_iter=500,
        batch_size=128,
        learning_rate_init=3e-3,
        margin_weight=1e-4,
        tol=1e-4,
        n_iter_no_change=10,
        device="auto",
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        self.loss = loss
        self.gamma = gamma
        self.model = model
        self.hidden_layer_sizes = hidden_layer_sizes
        self.image_shape = image_shape
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.margin_weight = margin_weight
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    # ---- hooks of BaseDeepEstimator ----------------------------------------
    def _n_outputs(self):
        return self._n_classes

    #: The batch objective (see :mod:`skdeepcluster.objectives`); set a
    #: subclass of :class:`~skdeepcluster.objectives.Supervised` on a
    #: subclass of this estimator to vary it.
    objective_class = Supervised

    def _objective_params(self, X, scaler, generator, *, targets):
        return dict(targets=targets, loss=self.loss, gamma=self._gamma,
                    margin_weight=self.margin_weight)

    # ---- fit ------------------------------------------------------------------
    def _encode_targets(self, y):
        """Return ``(classes, targets)``: int64 indices or float32 soft labels."""
        if sp.issparse(y):
            y = y.toarray()
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] > 1:
            return self._check_soft_labels(y)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        classes, indices = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in y; "
                f"got 1 class: {classes[0]!r}."
            )
        return classes, indices.astype(np.int64)

    def _check_soft_labels(self, y):
        if self.loss in _HARD_ONLY:
            raise ValueError(
                f"loss={self.loss!r} needs class labels, but y is a 2-D array of "
                f"shape {y.shape} (soft labels). Use loss='collision' or "
                "loss='shannon' for soft labels, or pass y.argmax(axis=1)."
            )
        try:
            Y = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                "Soft labels y of shape (n_samples, n_classes) must be numeric "
                f"probabilities; got dtype {y.dtype}."
            ) from exc
        sums = Y.sum(axis=1)
        worst = int(np.argmax(np.abs(sums - 1)))
        if np.any(Y < 0) or abs(sums[worst] - 1) > _ROW_SUM_TOL:
            raise ValueError(
                "Soft labels y of shape (n_samples, n_classes) must have "
                "non-negative rows that sum to 1; got min(y)="
                f"{Y.min():.4g} and row {worst} summing to {sums[worst]:.6g}."
            )
        return np.arange(Y.shape[1]), (Y / sums[:, None]).astype(np.float32)

    def _check_params_vs_input(self, X, targets):
        """Resolve data-dependent settings into private attributes."""
        self._batch_size = min(self.batch_size, X.shape[0])
        unused = self._network_unused()
        if self.loss not in _DEFAULT_GAMMA:
            unused["gamma"] = f"only loss='complement' and loss='focal' use it, " \
                f"not loss={self.loss!r}"
        if self.model != "conv":
            unused["image_shape"] = "only model='conv' reads images"
        self._warn_unused(unused)
        self._gamma = self.gamma
        if self._gamma is None:
            self._gamma = _DEFAULT_GAMMA.get(self.loss)
        if self.loss == "focal" and self._gamma < 0:
            raise ValueError(
                f"loss='focal' needs gamma >= 0; got gamma={self.gamma!r}."
            )
        if self.model == "conv":
            resolve_image_shape(self.image_shape, X.shape[1])

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the network on X with class labels or soft labels y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (dense).
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Class labels (any type), or soft labels: non-negative rows that
            sum to 1, one column per class. Soft labels need
            ``loss="collision"`` or ``loss="shannon"``.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        warm = self.warm_start and hasattr(self, "module_")
        X, y = validate_data(self, X, y, reset=not warm, dtype="numeric",
                             accept_sparse=False, multi_output=True,
                             ensure_min_samples=2)
        check_float32_range(X)
        classes, targets = self._encode_targets(y)
        if warm and not np.array_equal(classes, self.classes_):
            raise ValueError(
                "warm_start=True needs the classes of the previous fit "
                f"{self.classes_.tolist()}; got {classes.tolist()}."
            )
        self._n_classes = len(classes)
        self._check_params_vs_input(X, targets)
        device = resolve_device(self.device)
        (seed,) = draw_seeds(self.random_state, 1)
        config = self._loop_config(self.max_iter, self._batch_size)
        run = self._start_run(X, seed, device, config,
                              module=self.module_ if warm else None,
                              scaler=self._scaler if warm else None,
                              targets=targets)
        with (self._threads(X, device, self._batch_size),
              self._progress(self.max_iter) as progress):
            self._advance_run(run, progress)
        self.module_, self._scaler = run.module, run.scaler
        self.history_ = (self.history_ if warm else []) + run.history
        self.n_iter_ = run.n_iter
        self.classes_ = classes
        if (not run.interrupted and self.n_iter_no_change
                and run.n_iter == self.max_iter):
            warn_user(
                f"{type(self).__name__} ran max_iter={self.max_iter} epochs "
                f"without its training loss settling (tol={self.tol}); increase "
                "max_iter, or set n_iter_no_change=0 to train for a fixed "
                "number of epochs.", ConvergenceWarning,
            )
        return self

    # ---- predict ------------------------------------------------------------
    def _logits(self, X):
        """Eval-mode logits of validated X, computed in float64.

        In float32 the rounding of a matrix product depends on how many rows
        it has, so a sample's probabilities would move by ~1e-7 with the batch
        it is predicted in; float64 makes that invisible (sklearn's subset
        invariance). Training stays in float32.
        """
        device = resolve_device(self.device, fitting=False)
        network = _AsFloat64(self.module_).to(device)
        return predict_logits(network, X, self._scaler, device).double()

    def predict_proba(self, X):
        """Class probabilities ``softmax(network(X))``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``; rows sum to 1.
        """
        return self._proba(X)

    def predict_log_proba(self, X):
        """Log of ``predict_proba``, computed as a log-softmax.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        return self._proba(X, log=True)

    def predict(self, X):
        """Most probable class of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        proba = self._proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
