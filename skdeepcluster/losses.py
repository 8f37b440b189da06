"""Loss functions for self-labeling deep clustering.

Every function here is a pure torch function: it takes logits (or
probabilities) and targets, returns a tensor, keeps no state and never moves
data between devices. All of them accept any floating dtype and device, work
for any number of classes ``K >= 1`` and are written in log space so that
logits as large as ``±1e4`` give finite values and finite gradients.

Notation: ``σ_i = softmax(z_i)`` are the predictions for the logits ``z_i``,
``y_i`` the (pseudo-)labels, ``ȳ`` and ``σ̄`` their means over points and ``u``
the target prior (uniform unless given).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "collision_cross_entropy",
    "complement_cross_entropy",
    "complement_entropy",
    "cross_entropy",
    "entropy",
    "focal_loss",
    "mutual_information",
    "reverse_cross_entropy",
    "strong_fairness",
    "weak_fairness",
]

_REDUCTIONS = ("mean", "sum", "none")

#: Default floor of the reverse cross-entropy target entries (see
#: :func:`reverse_cross_entropy`).
REVERSE_CE_EPS = 1e-8


# ---------------------------------------------------------------------------
# Validation helpers (shared with :mod:`skdeepcluster.pseudo_labels`)
# ---------------------------------------------------------------------------


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"reduction must be one of {_REDUCTIONS}, got {reduction!r}."
        )


def _reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


def check_logits(logits: torch.Tensor, name: str = "logits") -> None:
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(logits)!r}.")
    if logits.ndim != 2 or not torch.is_floating_point(logits):
        raise ValueError(
            f"{name} must be a floating tensor of shape (n_samples, n_clusters), "
            f"got dtype {logits.dtype} and shape {tuple(logits.shape)}."
        )


def _split_target(
    logits: torch.Tensor, target: torch.Tensor
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Return ``(indices, None)`` for class indices, ``(None, probs)`` otherwise."""
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target must be a torch.Tensor, got {type(target)!r}.")
    n_samples, n_classes = logits.shape
    if torch.is_floating_point(target):
        if target.shape != logits.shape:
            raise ValueError(
                "A probability target must have the shape of the logits "
                f"{tuple(logits.shape)}, got {tuple(target.shape)}."
            )
        return None, target.to(logits.dtype)
    if target.ndim != 1 or target.shape[0] != n_samples:
        raise ValueError(
            "A class-index target must have shape (n_samples,) = "
            f"({n_samples},), got {tuple(target.shape)}."
        )
    return target.long(), None


def _check_indices(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    indices, probs = _split_target(logits, target)
    if indices is None:
        raise ValueError(
            "target must hold class indices (an integer tensor of shape "
            f"(n_samples,)), got a floating tensor of dtype {target.dtype}."
        )
    return indices


def validate_prior(
    prior, n_classes: int, dtype: torch.dtype, device: torch.device
) -> torch.Tensor | None:
    """Return the prior as a normalised tensor, or ``None`` for uniform.

    Raises ``ValueError`` naming the value received when the prior does not
    have ``n_classes`` finite non-negative entries with a positive sum.
    """
    if prior is None:
        return None
    message = (
        f"prior must be None or a 1-D array-like of {n_classes} finite, "
        f"non-negative values with a positive sum, got {prior!r}."
    )
    try:
        if isinstance(prior, torch.Tensor):
            values = prior.detach().to(device=device, dtype=torch.float64)
        else:
            values = torch.as_tensor(
                np.asarray(prior, dtype=np.float64), device=device
            )
    except (TypeError, ValueError) as exc:
        raise ValueError(message) from exc
    if values.ndim != 1 or values.shape[0] != n_classes:
        raise ValueError(message)
    if not bool(torch.isfinite(values).all() & (values >= 0).all()):
        raise ValueError(message)
    # normalised in float64, by the largest entry first: the sum of huge
    # entries cannot overflow and tiny ones are not lost to the target dtype
    largest = values.max()
    if not bool(largest > 0):
        raise ValueError(message)
    values = values / largest
    return (values / values.sum()).to(dtype)


def _tiny(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).tiny


def _log_mean(log_probs: torch.Tensor) -> torch.Tensor:
    """``log σ̄`` from ``log σ``: a log-mean-exp over the rows (always finite;
    the rows are the next-to-last dimension)."""
    return torch.logsumexp(log_probs, dim=-2) - math.log(log_probs.shape[-2])


# Kernels for training loops, on validated inputs and not in ``__all__``: the
# ``*_from_log_probs`` forms take ``log σ`` already computed, so that a
# training step that needs it for several terms (and for the y-step) computes
# it once; the public functions are built on them. Each takes rows in the
# next-to-last dimension and clusters in the last, so that a training loop can
# pass several heads' or views' batches stacked in front.


def collision_from_log_probs(log_probs, log_target):
    """Per-sample collision CE ``-ln σ_iᵀy_i`` from ``ln σ`` and ``ln y``
    (every row of ``y`` must have mass)."""
    return -torch.logsumexp(log_probs + log_target, dim=-1)


def weak_fairness_from_log_probs(log_probs, log_prior=None):
    """``KL(σ̄ ‖ u)`` from ``ln σ`` and ``ln u`` (None: uniform ``u``): one
    value per batch of rows (a scalar for one batch)."""
    log_mean = _log_mean(log_probs)
    return _kl_from_mean(log_mean.exp(), log_mean, log_prior)


def weak_fairness_from_mean(mean, log_prior=None):
    """``KL(σ̄ ‖ u)`` from the batch's mean prediction ``σ̄`` (summed over the
    processes of a data-parallel fit) and ``ln u`` (None: uniform ``u``)."""
    return _kl_from_mean(mean, torch.log(mean.clamp_min(_tiny(mean.dtype))),
                         log_prior)


def _kl_from_mean(mean, log_mean, log_prior):
    """``KL(σ̄ ‖ u)`` from ``σ̄``, ``ln σ̄`` and ``ln u`` (None: uniform)."""
    if log_prior is None:
        return (mean * log_mean).sum(-1) + math.log(mean.shape[-1])
    return (mean * (log_mean - log_prior)).sum(-1)


def entropy_from_log_probs(log_probs, probs=None):
    """Per-sample entropy ``-Σ_k σ_k ln σ_k`` from ``ln σ`` (and ``σ`` when
    already at hand)."""
    probs = log_probs.exp() if probs is None else probs
    return (probs * -log_probs).sum(dim=-1)


def log_prior(u: torch.Tensor) -> torch.Tensor:
    """``ln u`` with zero entries raised to the dtype's tiny."""
    return torch.log(u.clamp_min(_tiny(u.dtype)))


# ---------------------------------------------------------------------------
# Cross-entropies
# ---------------------------------------------------------------------------


def collision_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean"
) -> torch.Tensor:
    r"""Collision cross-entropy ``H₂(y, σ) = -ln Σ_k y_k σ_k``.

    Minus the log-probability that a class drawn from the prediction
    ``σ = softmax(logits)`` equals a class drawn from the target ``y``. Unlike
    the Shannon cross-entropy it does not teach the network to copy the
    uncertainty of a soft target: a uniform target gives exactly zero
    gradient. Its gradient with respect to the logits is
    ``σ - (y ∘ σ) / (yᵀσ)``.

    It is computed as ``-logsumexp(log_softmax(logits) + ln y)``, never as the
    log of a sum of products, so it stays finite for extreme logits.

    Parameters
    ----------
    logits : Tensor of shape (n_samples, n_classes)
        Unnormalised scores, any floating dtype.
    target : Tensor of shape (n_samples, n_classes) or (n_samples,)
        Either probabilities (rows on the simplex; exact zeros allowed) or
        integer class indices. For class indices the loss equals the Shannon
        cross-entropy. A probability row that is entirely zero carries no
        label: it contributes 0 with zero gradient.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample values are reduced.

    Returns
    -------
    loss : Tensor
        A scalar, or the per-sample values of shape (n_samples,) when
        ``reduction="none"``.

    See Also
    --------
    cross_entropy : The Shannon cross-entropy ``H(y, σ)``, an upper bound.

    Examples
    --------
    >>> import torch
    >>> from skdeepcluster.losses import collision_cross_entropy
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    >>> target = torch.tensor([[0.5, 0.5], [1.0, 0.0]])
    >>> collision_cross_entropy(logits, target, reduction="none")
    tensor([0.6931, 0.6931])
    """
    _check_reduction(reduction)
    check_logits(logits)
    indices, probs = _split_target(logits, target)
    log_probs = F.log_softmax(logits, dim=1)
    if indices is not None:
        values = -log_probs.gather(1, indices[:, None]).squeeze(1)
    else:
        # Rows without any mass are given a uniform stand-in (value 0, zero
        # gradient) instead of -ln 0; this also keeps the backward pass free
        # of 0 / 0.
        empty = probs.sum(dim=1, keepdim=True) <= 0
        log_target = torch.log(torch.where(empty, torch.ones_like(probs), probs))
        values = collision_from_log_probs(log_probs, log_target)
        values = values.masked_fill(empty[:, 0], 0.0)
    return _reduce(values, reduction)


def cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean"
) -> torch.Tensor:
    r"""Shannon cross-entropy ``H(y, σ) = -Σ_k y_k ln σ_k``.

    With a soft target it drives ``σ`` towards ``y`` (it teaches the network
    to copy the target's uncertainty). Zero target entries contribute exactly
    zero (``0 · ln σ = 0``).

    Parameters
    ----------
    logits : Tensor of shape (n_samples, n_classes)
        Unnormalised scores, any floating dtype.
    target : Tensor of shape (n_samples, n_classes) or (n_samples,)
        Probabilities (soft labels, zeros allowed) or integer class indices.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample values are reduced.

    Returns
    -------
    loss : Tensor
        A scalar, or the per-sample values of shape (n_samples,) when
        ``reduction="none"``.

    Examples
    --------
    >>> import torch
    >>> from skdeepcluster.losses import cross_entropy
    >>> logits = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    >>> cross_entropy(logits, torch.tensor([0, 1]))
    tensor(0.6931)
    >>> cross_entropy(logits, torch.tensor([[0.5, 0.5], [1.0, 0.0]]))
    tensor(0.6931)
    """
    _check_reduction(reduction)
    check_logits(logits)
    indices, probs = _split_target(logits, target)
    log_probs = F.log_softmax(logits, dim=1)
    if indices is not None:
        values = -log_probs.gather(1, indices[:, None]).squeeze(1)
    else:
        # log_softmax of finite logits is finite, so 0 * log σ is exactly 0.
        values = -(probs * log_probs).sum(dim=1)
    return _reduce(values, reduction)


def reverse_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: str = "mean",
    eps: float | None = None,
) -> torch.Tensor:
    r"""Reverse cross-entropy ``H(σ, y) = -Σ_k σ_k ln y_k``.

    The prediction comes first. For a target with positive entries the loss
    is bounded in ``σ`` (by ``-ln min_k y_k``), which makes it robust to wrong
    pseudo-labels.

    Parameters
    ----------
    logits : Tensor of shape (n_samples, n_classes)
        Unnormalised scores, any floating dtype.
    target : Tensor of shape (n_samples, n_classes) or (n_samples,)
        Probabilities, or integer class indices (one-hot targets).
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample values are reduced.
    eps : float, default=None
        Target entries below ``eps`` are raised to ``eps`` before the
        logarithm, so zero entries cost ``-ln eps`` instead of infinity and the
        loss never exceeds ``-ln eps``. ``None`` means
        ``max(1e-8, torch.finfo(dtype).tiny)``, a cap of about 18.4 nats; an
        ``eps`` below ``torch.finfo(dtype).tiny`` is raised to it.

    Returns
    -------
    loss : Tensor
        A scalar, or the per-sample values of shape (n_samples,) when
        ``reduction="none"``.

    Examples
    --------
    >>> import torch
    >>> from skdeepcluster.losses import reverse_cross_entropy
    >>> logits = torch.tensor([[0.0, 0.0]])
    >>> reverse_cross_entropy(logits, torch.tensor([[0.5, 0.5]]))
    tensor(0.6931)
    >>> reverse_cross_entropy(logits, torch.tensor([[1.0, 0.0]]), eps=1e-4)
    tensor(4.6052)
    """
    _check_reduction(reduction)
    check_logits(logits)
    indices, probs = _split_target(logits, target)
    if indices is not None:
        probs = F.one_hot(indices, logits.shape[1]).to(logits.dtype)
    if eps is None:
        eps = max(REVERSE_CE_EPS, _tiny(logits.dtype))
    elif not (eps > 0 and math.isfinite(eps)):
        raise ValueError(f"eps must be a positive finite float or None, got {eps!r}.")
    else:
        # an eps below the dtype's smallest normal number would round to 0
        eps = max(float(eps), _tiny(logits.dtype))
    log_target = torch.log(probs.clamp_min(eps))
    values = -(torch.softmax(logits, dim=1) * log_target).sum(dim=1)
    return _reduce(values, reduction)


# ---------------------------------------------------------------------------
# Complement losses and focal loss (class-index targets)
# ---------------------------------------------------------------------------


def complement_entropy(
    logits: torch.Tensor, target: torch.Tensor, *, reduction: str = "mean"
) -> torch.Tensor:
    r"""Entropy of the wrong-class distribution.

    ``C_i = H(q_i)`` with ``q_ij = σ_ij / (1 - σ_ig)`` for ``j ≠ g``, the true
    class ``g`` excluded; ``q_i`` is the softmax of the logits with the true
    logit masked out, so ``C`` does not depend on (and gives zero gradient
    to) the true logit. It is 0 when ``K <= 2``.

    Parameters
    ----------
    logits : Tensor of shape (n_samples, n_classes)
        Unnormalised scores, any floating dtype.
    target : Tensor of shape (n_samples,)
        Integer class indices ``g``.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample values are reduced.

    Returns
    -------
    entropy : Tensor
        A scalar, or the per-sample values of shape (n_samples,) when
        ``reduction="none"``. Values lie in ``[0, ln(K - 1)]``.

    Examples
    --------
    >>> import torch
    >>> from skdeepcluster.losses import complement_entropy
    >>> logits = torch.tensor([[5.0, 1.0, 1.0, 1.0]])
    >>> round(float(complement_entropy(logits, torch.tensor([0]))), 4)  # ln 3
    1.0986
    """
    _check_reduction(reduction)
    check_logits(logits)
    indices = _check_indices(logits, target)
    n_classes = logits.shape[1]
    if n_classes == 1:
        # No wrong class: an empty distribution has zero entropy.
        return _reduce(logits.sum(dim=1) * 0.0, reduction)
    mask = F.one_hot(indices, n_classes).bool()
    log_q = F.log_softmax(logits.masked_fill(mask, -math.inf), dim=1)
    q = log_q.exp()  # exactly 0 on the true class
    # Replace the -inf of the true class by 0 so that neither 0 · (-inf) nor
    # its gradient can produce NaN.
    values = -(q * log_q.masked_fill(mask, 0.0)).sum(dim=1)
    return _reduce(values, reduction)


def complement_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    gamma: float = -1.0,
    *,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Complement cross-entropy ``H(e_g, σ) + γ / (K - 1) · C``.

    The Shannon cross-entropy with the true class ``g`` plus ``γ / (K - 1)``
    times the :func:`complement_entropy` ``C``. With the default ``γ = -1``,
    minimising the loss *raises* ``C``: the wrong classes are flattened so the
    true class stands out, which helps on imbalanced data. (The original
    authors' public code has the opposite effective sign and divides by ``K``;
    this implements the stated intent.) The complement term gives zero
    gradient to the true logit. For ``K <= 2`` the complement entropy is 0 and
    the loss equals the cross-entropy exactly.

    Parameters
    ----------
    logits : Tensor of shape (n_samples, n_classes)
        Unnormalised scores, any floating dtype.
    target : Tensor of shape (n_samples,)
        Integer class indices.
    gamma : float, default=-1.0
        Weight of the complement entropy; negative values flatten the wrong
        classes, ``0`` gives the cross-entropy.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample values are reduced.

    Returns
    -------
    loss : Tensor
        A scalar, or the per-sample values of shape (n_samples,) when
        ``reduction="none"``.

    Examples
    --------
    >>> import torch
    >>> from skdeepcluster.losses import complement_cross_entropy
    >>> logits = torch.tensor([[5.0, 1.0, 1.0, 1.0]])
    >>> target = torch.tensor([0])
    >>> round(float(complement_cross_entropy(logits, target, gamma=0.0)), 4)
    0.0535
    >>> round(float(complement_cross_entropy(logits, target)), 4)  # - ln(3) / 3
    -0.3127
    """
    _check_reduction(reduction)
    check_logits(logits)
    indices = _check_indices(logits, target)
    if not math.isfinite(gamma):
        raise ValueError(f"gamma must be a finite float, got {gamma!r}.")
    n_classes = logits.shape[1]
    values = cross_entropy(logits, indices, reduction="none")
    if n_classes > 2 and gamma != 0:
        complement = complement_entropy(logits, indices, reduction="none")
        values = values + (gamma / (n_classes - 1)) * complement
    return _reduce(values, reduction)


def focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    gamma: float = 2.0,
    *,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Focal loss ``-(1 - p_g)^γ ln p_g`` (Lin et al., 2017).

    Down-weights well-classified points. ``p_g`` is the predicted probability
    of the true class; ``ln p_g`` comes from ``log_softmax`` and
    ``1 - p_g = -expm1(ln p_g)``, so confident predictions keep full relative
    precision. ``γ = 0`` gives the cross-entropy.

    Parameters
    ----------
    logits : Tensor of shape (n_samples, n_classes)
        Unnormalised scores, any floating dtype.
    target : Tensor of shape (n_samples,)
        Integer class indices.
    gamma : float, default=2.0
        Focusing parameter, ``>= 0``.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample values are reduced.

    Returns
    -------
    loss : Tensor
        A scalar, or the per-sample values of shape (n_samples,) when
        ``reduction="none"``.

    Examples
    --------
    >>> import torch
    >>> from skdeepcluster.losses import focal_loss
    >>> logits = torch.tensor([[0.0, 0.0]])
    >>> round(float(focal_loss(logits, torch.tensor([0]))), 4)  # 0.25 * ln 2
    0.1733
    """
    _check_reduction(reduction)
    check_logits(logits)
    indices = _check_indices(logits, target)
    if not (math.isfinite(gamma) and gamma >= 0):
        raise ValueError(f"gamma must be a finite float >= 0, got {gamma!r}.")
    log_p = F.log_softmax(logits, dim=1).gather(1, indices[:, None]).squeeze(1)
    if gamma == 0:
        values = -log_p
    else:
        # The floor keeps d(x^γ)/dx finite at x = 0 (for γ < 1).
        one_minus_p = (-torch.expm1(log_p)).clamp_min(_tiny(logits.dtype))
        values = -one_minus_p.pow(gamma) * log_p
    return _reduce(values, reduction)


# ---------------------------------------------------------------------------
# Fairness, decisiveness and mutual information
# ---------------------------------------------------------------------------


def strong_fairness(probs: torch.Tensor, prior=None) -> torch.Tensor:
    r"""Strong fairness ``KL(u ‖ ȳ) = Σ_k u_k ln(u_k / ȳ_k)``.

    ``ȳ`` is the mean of the rows of ``probs`` (usually pseudo-labels). The
    penalty grows without bound as a cluster empties, which forbids empty
    clusters. ``ȳ`` is shifted by ``torch.finfo(dtype).tiny`` inside the
    logarithm, so an exactly empty cluster gives a large but finite value
    (about ``708 u_k`` nats in float64, ``87 u_k`` in float32).

    Parameters
    ----------
    probs : Tensor of shape (n_samples, n_classes)
        Probabilities, rows on the simplex.
    prior : array-like of shape (n_classes,), default=None
        Target proportions ``u``; non-negative, normalised to sum 1. ``None``
        means uniform.

    Returns
    -------
    kl : Tensor
        A scalar tensor, ``>= 0``.

    Examples
    --------
    >>> import torch
    >>> from skdeepcluster.losses import strong_fairness
    >>> probs = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    >>> strong_fairness(probs)
    tensor(0.)
    >>> round(float(strong_fairness(probs, prior=[0.75, 0.25])), 4)
    0.1308
    """
    check_logits(probs, name="probs")
    n_classes = probs.shape[1]
    u = validate_prior(prior, n_classes, probs.dtype, probs.device)
    log_mean = torch.log(probs.mean(dim=0) + _tiny(probs.dtype))
    if u is None:
        return -math.log(n_classes) - log_mean.mean()
    return (torch.xlogy(u, u) - u * log_mean).sum()


def weak_fairness(logits: torch.Tensor, prior=None) -> torch.Tensor:
    r"""Weak fairness ``KL(σ̄ ‖ u)``; equals ``ln K - H(σ̄)`` for a uniform ``u``.

    ``σ̄`` is the mean prediction. Bounded by ``ln K`` (uniform prior); the
    classic mutual-information balance term (IMSAT). ``ln σ̄`` is computed as
    a log-mean-exp of the log-softmax, so it is finite even when a class gets
    zero probability everywhere. Zero prior entries are raised to
    ``torch.finfo(dtype).tiny`` inside the logarithm.

    Parameters
    ----------
    logits : Tensor of shape (n_samples, n_classes)
        Unnormalised scores, any floating dtype.
    prior : array-like of shape (n_classes,), default=None
        Target proportions ``u``; non-negative, normalised to sum 1. ``None``
        means uniform.

    Returns
    -------
    kl : Tensor
        A scalar tensor, ``>= 0``.

    Examples
    --------
    >>> import math, torch
    >>> from skdeepcluster.losses import weak_fairness
    >>> logits = torch.tensor([[9.0, 0.0], [9.0, 0.0]])
    >>> round(float(weak_fairness(logits)), 4), round(math.log(2), 4)
    (0.6919, 0.6931)
    """
    check_logits(logits)
    n_classes = logits.shape[1]
    u = validate_prior(prior, n_classes, logits.dtype, logits.device)
    log_u = None if u is None else log_prior(u)
    return weak_fairness_from_log_probs(F.log_softmax(logits, dim=1), log_u)


def entropy(logits: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    r"""Prediction entropy ``H(σ_i) = -Σ_k σ_ik ln σ_ik`` (decisiveness).

    Parameters
    ----------
    logits : Tensor of shape (n_samples, n_classes)
        Unnormalised scores, any floating dtype.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample values are reduced.

    Returns
    -------
    entropy : Tensor
        A scalar, or the per-sample values of shape (n_samples,) when
        ``reduction="none"``. Values lie in ``[0, ln K]``.

    Examples
    --------
    >>> import torch
    >>> from skdeepcluster.losses import entropy
    >>> entropy(torch.tensor([[0.0, 0.0], [1e4, 0.0]]), reduction="none")
    tensor([0.6931, 0.0000])
    """
    _check_reduction(reduction)
    check_logits(logits)
    values = entropy_from_log_probs(F.log_softmax(logits, dim=1))
    return _reduce(values, reduction)


def mutual_information(logits: torch.Tensor) -> torch.Tensor:
    r"""Mutual information estimate ``H(σ̄) - mean_i H(σ_i)``.

    The Bridle et al. (1991) estimate of the mutual information between the
    input and the cluster: high when each prediction is confident and the
    clusters are balanced. It lies in ``[0, ln K]`` (up to rounding) and is a
    natural unsupervised score (higher is better).

    Parameters
    ----------
    logits : Tensor of shape (n_samples, n_classes)
        Unnormalised scores, any floating dtype.

    Returns
    -------
    mi : Tensor
        A scalar tensor.

    Examples
    --------
    >>> import torch
    >>> from skdeepcluster.losses import mutual_information
    >>> logits = torch.tensor([[30.0, 0.0], [0.0, 30.0]], dtype=torch.float64)
    >>> round(float(mutual_information(logits)), 4)  # ln 2
    0.6931
    """
    check_logits(logits)
    log_probs = F.log_softmax(logits, dim=1)
    conditional = entropy_from_log_probs(log_probs).mean()
    log_mean = _log_mean(log_probs)
    marginal = -(log_mean.exp() * log_mean).sum()
    return marginal - conditional
