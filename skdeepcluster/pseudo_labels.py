"""Pseudo-label solvers: the y-step of self-labeling clustering.

With the network fixed, the pseudo-labels ``Y`` (one point of the simplex per
sample) minimise

* ``loss="collision"``: ``F(Y) = mean_i -ln(σ_iᵀ y_i) + λ KL(u ‖ ȳ)``,
* ``loss="reverse"``: ``F(Y) = mean_i -Σ_k σ_ik ln y_ik + λ KL(u ‖ ȳ)``,

where ``σ`` are the predicted probabilities, ``ȳ`` the mean pseudo-label and
``u`` the target prior. Both problems are convex. :func:`solve_pseudo_labels`
solves them with closed-form EM updates (fast) or with projected gradient
descent (a generic baseline); :func:`sinkhorn_knopp` gives the SeLa-style
equipartitioned labels used with the Shannon cross-entropy.

All functions are pure tensor -> tensor: outputs have the dtype and device of
the inputs, inputs are never modified, and there is no Python loop over
points.
"""

from __future__ import annotations

import math
import numbers

import torch

from .losses import check_logits, validate_prior

__all__ = ["pseudo_label_objective", "sinkhorn_knopp", "solve_pseudo_labels"]

_LOSSES = ("collision", "reverse")
_METHODS = ("em", "pgd")

#: Off the CPU, the stopping rule is evaluated (one host-device
#: synchronisation) once every ``_CHECK_EVERY`` EM iterations.
_CHECK_EVERY = 10

# Armijo backtracking constants of the projected-gradient baseline.
_ARMIJO_C = 1e-4
_ARMIJO_SHRINK = 0.5
_PGD_GROW = 2.0
_PGD_MAX_BACKTRACKS = 60

# Defaults of solve_pseudo_labels (training also uses MAX_ITER per mini-batch
# and TOL for the objective that ranks restarts).
MAX_ITER = 100
TOL = 1e-4

# Adaptive over-relaxation of the collision EM (see ``_em_collision``).
_ETA_GROW = 2.0
_ETA_SHRINK = 4.0


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def _check_choice(value, options, name):
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}.")


def _check_fairness_weight(fairness_weight) -> float:
    if (
        isinstance(fairness_weight, bool)
        or not isinstance(fairness_weight, numbers.Real)
        or not math.isfinite(fairness_weight)
        or fairness_weight < 0
    ):
        raise ValueError(
            f"fairness_weight must be a finite float >= 0, got {fairness_weight!r}."
        )
    return float(fairness_weight)


def _check_probs(probs) -> None:
    check_logits(probs, name="probs")
    if probs.shape[0] < 1 or probs.shape[1] < 1:
        raise ValueError(
            f"probs must have at least one row and one column, got shape "
            f"{tuple(probs.shape)}."
        )


def prior_tensor(prior, probs: torch.Tensor) -> torch.Tensor:
    """The prior as a tensor like ``probs`` (uniform when ``prior`` is None)."""
    n_classes = probs.shape[1]
    u = validate_prior(prior, n_classes, probs.dtype, probs.device)
    if u is None:
        u = torch.full((n_classes,), 1.0 / n_classes, dtype=probs.dtype,
                       device=probs.device)
    return u


# ---------------------------------------------------------------------------
# Objective and gradient (inputs already validated)
# ---------------------------------------------------------------------------


def _fairness(y_mean: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """``KL(u ‖ ȳ)``; +inf when a cluster with ``u_k > 0`` is empty."""
    return (torch.xlogy(u, u) - torch.xlogy(u, y_mean)).sum()


def _objective(y, sigma, loss, lam, u) -> torch.Tensor:
    if loss == "collision":
        value = -torch.log(torch.linalg.vecdot(sigma, y)).mean()
    else:
        value = -torch.xlogy(sigma, y).sum(dim=1).mean()
    if lam > 0:
        value = value + lam * _fairness(y.mean(dim=0), u)
    return value


def _fairness_weights(y, lam_u, tiny):
    """``λ u_k / ȳ_k``: the gradient of ``N λ KL(u ‖ ȳ)``, up to sign."""
    return lam_u / y.mean(dim=0).clamp_min(tiny)


def _scaled_gradient(y, sigma, loss, lam, lam_u, tiny) -> torch.Tensor:
    """``N ∇F(Y)``, i.e. ``-σ_ik / (σ_iᵀ y_i) - λ u_k / ȳ_k`` for collision."""
    if loss == "collision":
        grad = -sigma / torch.linalg.vecdot(sigma, y).clamp_min(tiny)[:, None]
    else:
        grad = -torch.where(sigma > 0, sigma / y, 0.0)
    if lam > 0:
        grad = grad - _fairness_weights(y, lam_u, tiny)
    return grad


def _frank_wolfe_gap(y, grad) -> torch.Tensor:
    """``mean_i (y_iᵀ G_i - min_k G_ik)`` for ``G = N ∇F``: a bound on ``F - F*``."""
    return ((y * grad).sum(dim=1) - grad.amin(dim=1)).mean()


def _certified(y, sigma, loss, lam, u, lam_u, tol) -> torch.Tensor:
    """Whether the Frank-Wolfe gap at ``y`` is at most ``tol`` times ``F``
    (a bool tensor: reading it waits for the device); ``lam_u`` is ``λu``."""
    grad = _scaled_gradient(y, sigma, loss, lam, lam_u, torch.finfo(y.dtype).tiny)
    return _frank_wolfe_gap(y, grad) <= tol * _objective(y, sigma, loss, lam, u)


# ---------------------------------------------------------------------------
# Solvers (inputs already validated; ``y`` is owned and may be overwritten)
# ---------------------------------------------------------------------------


def _check_every(sigma, sync_free):
    """Test the stopping rule every iteration on CPU (a test costs nothing
    there), every ``_CHECK_EVERY`` iterations where it waits for a device
    (at iterations 5, 15, 25, ...: the uniform start is never optimal)."""
    if sync_free is None:
        sync_free = sigma.device.type != "cpu"
    return _CHECK_EVERY if sync_free else 1


def _em(sigma, y, loss, lam, u, max_iter, tol, *, accelerate=True, callback=None,
        sync_free=None, done=None):
    """EM / majorise-minimise updates of THEORY §3.

    ``y_ik <- (r_ik + λ u_k y_ik / ȳ_k) / (1 + λ Σ_c u_c y_ic / ȳ_c)`` with
    ``r_ik = σ_ik y_ik / σ_iᵀ y_i`` (collision) or ``r_ik = σ_ik`` (reverse);
    ``λ u_k y_ik / ȳ_k`` is the ``λ N u_k s_ik`` of the text. For collision
    the update is multiplicative, ``y_i <- y_i ∘ g_i / y_iᵀg_i`` with
    ``g_ik = σ_ik / σ_iᵀy_i + λ u_k / ȳ_k``, and is over-relaxed (see
    :func:`_em_collision`). ``y=None`` is the uniform start.

    With ``done`` (a 0-dim bool tensor, updated in place) the stopping rule
    is tested at every iteration without waiting for the device: once it
    holds, ``done`` is set and the iterations left leave ``y`` as it is, so
    that ``max_iter`` iterations give what the stopping rule would have
    returned (when it held by then). The iteration count returned is then
    ``max_iter``.
    """
    if loss == "collision":
        return _em_collision(sigma, y, lam, u, max_iter, tol,
                             accelerate=accelerate, callback=callback,
                             sync_free=True if done is not None else sync_free,
                             done=done)
    y = _uniform_start(sigma) if y is None else y
    tiny = torch.finfo(sigma.dtype).tiny
    lam_u = lam * u
    check_every = _check_every(sigma, sync_free)
    for it in range(max_iter):
        if lam > 0:
            numer = torch.addcmul(sigma, y, _fairness_weights(y, lam_u, tiny))
        else:
            numer = sigma.clone()
        if done is not None:
            done.logical_or_(_certified(y, sigma, loss, lam, u, lam_u, tol))
            y = torch.where(done, y, numer.div_(numer.sum(dim=1, keepdim=True)))
            if callback is not None:
                callback(it, y)
            continue
        if tol > 0 and it % check_every == check_every // 2:
            if bool(_certified(y, sigma, loss, lam, u, lam_u, tol)):
                return y, it
        y = numer.div_(numer.sum(dim=1, keepdim=True))
        if callback is not None:
            callback(it, y)
    return y, max_iter


def _em_collision(sigma, y, lam, u, max_iter, tol, *, accelerate=True,
                  callback=None, sync_free=None, done=None):
    """Collision EM with adaptive over-relaxation in the log domain.

    The EM step is ``y_i ∝ y_i ∘ g_i``. The over-relaxed step of order ``η``
    is ``y_i ∝ y_i ∘ (g_i / max_k g_ik)^η`` (a step of ``η`` times the EM
    step in ``ln y``; it pushes points that converge to a vertex, the usual
    case, much faster than the geometric rate of EM). It is accepted only if
    ``F`` does not increase; then ``η`` doubles. A rejected step leaves ``Y``
    unchanged and divides ``η`` by 4 (down to 1). ``η`` starts at 1: a
    sharper start (16) reached loose gaps a little sooner on random problems
    but took far longer to certify tight ones where N is close to K. With
    ``η = 1`` the step is the plain EM step and is always taken, so ``F``
    never increases and the iteration never stalls (Salakhutdinov & Roweis,
    2003, adapted to the log domain). On CPU the test is a Python ``if``; on
    other devices it is a ``torch.where`` so that no iteration waits for the
    device (``sync_free=None`` chooses by device; tests force either path).
    ``y=None`` is the uniform start, from which the first (plain) step is
    taken in closed form; it counts as an iteration. ``done``: see
    :func:`_em` (it needs the device loop).
    """
    first = 0
    if y is None and max_iter > 0:
        # From the uniform start, the first (plain) EM step has a closed
        # form: g_ik = Kσ_ik / Σ_c σ_ic + λK u_k, so y_i ∝ σ_i / Σ_c σ_ic + λu.
        y = sigma / sigma.sum(dim=1, keepdim=True).clamp_min(
            torch.finfo(sigma.dtype).tiny)
        if lam > 0:
            y = y.add_(lam * u)
        y = y.div_(y.sum(dim=1, keepdim=True))
        first = 1
    elif y is None:
        y = _uniform_start(sigma)
    check_every = _check_every(sigma, sync_free)
    floor = _collision_floor(y, lam, accelerate, host=check_every == 1)
    if first:
        y = _apply_floor(y, floor)
        if callback is not None:
            callback(0, y)
    options = {"floor": floor, "first": first, "accelerate": accelerate,
               "callback": callback}
    if check_every == 1:
        return _em_collision_host(sigma, y, lam, u, max_iter, tol, **options)
    return _em_collision_sync_free(sigma, y, lam, u, max_iter, tol,
                                   check_every=check_every, done=done, **options)


def _uniform_start(sigma):
    return torch.full_like(sigma, 1.0 / sigma.shape[1])


def _collision_floor(y, lam, accelerate, *, host=True):
    """The smallest entry an over-relaxed step may leave (None: no floor).

    With fairness, the optimal support of a row can grow while the fairness
    weights settle, but an over-relaxed step can underflow an entry to
    exactly 0, and a zero never comes back. Entries are therefore kept above
    a floor of eps² (~5e-32 in float64, a negligible change of F); entries
    that start at zero stay zero (a tensor floor that is 0 there). Without
    fairness the optimum is the argmax vertex and no floor is needed. Off
    the ``host`` loop the floor is always the tensor one, so that no step
    waits for the device to say whether ``y`` has zeros.
    """
    if not accelerate or lam <= 0:
        return None
    floor = torch.finfo(y.dtype).eps ** 2
    if host and bool((y > 0).all()):
        return floor
    return floor * (y > 0).to(y.dtype)


def _collision_weights(sigma, dots, col_sums, lam_nu, tiny):
    """``g_ik = σ_ik / σ_iᵀy_i + w_k = -N ∂F/∂y_ik``, its row maxima and the
    fairness weights ``w_k = λ u_k / ȳ_k = λ N u_k / S_k`` (None without
    fairness)."""
    if lam_nu is None:
        g, w = sigma / dots[:, None], None
    else:
        w = lam_nu / col_sums.clamp_min(tiny)
        g = torch.addcdiv(w, sigma, dots[:, None])
    return g, g.amax(dim=1, keepdim=True), w


def _collision_constants(sigma, lam, u, *, host=True):
    """``N``, ``λNu`` (None without fairness) and ``λ (Σ u ln u + ln N)``, the
    constant part of ``λ KL(u ‖ S/N)`` (``Σ u = 1``).

    The EM loops track the column sums ``S = N ȳ`` rather than the mean
    (``torch.mean`` is a sum, a division and a scalar copy): ``w = λu/ȳ =
    λNu/S`` and ``Σ_k u_k ln ȳ_k = Σ_k u_k ln S_k - ln N``.
    """
    n = sigma.shape[0]
    if lam <= 0:
        return n, None, 0.0
    u_log_u = torch.xlogy(u, u).sum()
    # off the host loop the constant stays a device scalar (no wait for it)
    return n, lam * n * u, lam * ((float(u_log_u) if host else u_log_u) + math.log(n))


def _collision_terms(sigma, labels, lam, u):
    """``σ_iᵀy_i`` (floored at tiny), ``S``, ``Σ_i ln σ_iᵀy_i`` (from the
    unfloored dots: -inf where one is 0) and ``Σ_k u_k ln S_k`` (None
    without fairness), all tensors."""
    dots = torch.linalg.vecdot(sigma, labels)
    col_sums = labels.sum(dim=0)
    log_sum = torch.log(dots).sum()
    fair_sum = torch.xlogy(u, col_sums).sum() if lam > 0 else None
    return dots.clamp_min_(torch.finfo(sigma.dtype).tiny), col_sums, log_sum, fair_sum


def _relaxed_step(y, g, g_max, eta, floor):
    """``y_i ∘ (g_i / max g_i)^η``, rows normalised and floored; ``eta=None``
    is the plain EM step ``y_i ∘ g_i``. Overwrites ``g``.

    The power goes through log/exp: ``torch.pow`` with a tensor or
    non-integer exponent is several times slower, and ``g / max g <= 1``
    keeps every power finite.
    """
    if eta is None:
        candidate = y * g
    else:
        candidate = y * g.div_(g_max).log_().mul_(eta).exp_()
    return _apply_floor(candidate.div_(candidate.sum(dim=1, keepdim=True)), floor)


def _apply_floor(y, floor):
    """Raise entries of ``y`` to ``floor`` (a float, in place; a tensor, 0
    where an entry must stay 0; None: no floor)."""
    if isinstance(floor, float):
        return y.clamp_min_(floor)
    if floor is not None:
        return torch.maximum(y, floor)
    return y


def _flush_subnormals(y, it, floor, tiny, *, host):
    """Every ``_CHECK_EVERY`` iterations without a floor, set entries below
    ``tiny`` to zero: they carry no mass but make CPU arithmetic many times
    slower."""
    if floor is not None or it % _CHECK_EVERY != _CHECK_EVERY - 1:
        return y
    return y.masked_fill_(y < tiny, 0.0) if host else torch.where(y < tiny, 0.0, y)


def _em_collision_host(sigma, y, lam, u, max_iter, tol, *, floor, first,
                       accelerate, callback):
    """The CPU loop: every test is a Python ``if`` on a host float.

    The data here are small (a mini-batch: a few hundred rows, about ten
    clusters), so the cost is the number of tensor operations, and this
    loop keeps it low: it tracks column sums (see
    :func:`_collision_constants`), and the Frank-Wolfe gap comes from the
    identity
    ``mean_i y_iᵀg_i = mean_i σ_iᵀy_i / σ_iᵀy_i + ȳᵀw = 1 + Sᵀw / N``
    (no pass over ``Y``); ``F`` is a host float.
    """
    tiny = torch.finfo(sigma.dtype).tiny
    n, lam_nu, fair_const = _collision_constants(sigma, lam, u)

    def state(labels):
        dots, col_sums, log_sum, fair_sum = _collision_terms(sigma, labels, lam, u)
        value = -float(log_sum) / n
        if lam > 0:
            value += fair_const - lam * float(fair_sum)
        return dots, col_sums, value

    dots, col_sums, value = state(y)
    eta = _ETA_GROW ** first  # η = 1 (a plain EM step) until a step is taken
    for it in range(first, max_iter):
        g, g_max, w = _collision_weights(sigma, dots, col_sums, lam_nu, tiny)
        if tol > 0:
            y_dot_g = 1.0 if w is None else 1.0 + float(torch.dot(col_sums, w)) / n
            if float(g_max.sum()) / n - y_dot_g <= tol * value:
                return y, it
        relaxed = accelerate and eta != 1.0
        candidate = _relaxed_step(y, g, g_max, eta if relaxed else None, floor)
        new_dots, new_sums, new_value = state(candidate)
        if not relaxed or new_value <= value:
            y, dots, col_sums, value = candidate, new_dots, new_sums, new_value
            eta *= _ETA_GROW
        else:
            eta = max(1.0, eta / _ETA_SHRINK)
        y = _flush_subnormals(y, it, floor, tiny, host=True)
        if callback is not None:
            callback(it, y)
    return y, max_iter


def _em_collision_sync_free(sigma, y, lam, u, max_iter, tol, *, floor, first,
                            accelerate, callback, check_every, done=None):
    """The accelerator loop: no iteration waits for the device.

    Acceptance is a ``torch.where`` on device scalars and the stopping rule
    is evaluated (one synchronisation) every ``check_every`` iterations.
    """
    tiny = torch.finfo(sigma.dtype).tiny
    n, lam_nu, fair_const = _collision_constants(sigma, lam, u, host=False)

    def state(labels):  # the host loop's arithmetic, on device scalars
        dots, col_sums, log_sum, fair_sum = _collision_terms(sigma, labels, lam, u)
        value = -log_sum / n
        if lam > 0:
            value = value + (fair_const - lam * fair_sum)
        return dots, col_sums, value

    dots, col_sums, value = state(y)
    eta = torch.full((), _ETA_GROW ** first, dtype=sigma.dtype, device=sigma.device)
    one = torch.ones_like(eta)
    for it in range(first, max_iter):
        g, g_max, _ = _collision_weights(sigma, dots, col_sums, lam_nu, tiny)
        if done is not None:  # tested at every iteration, frozen once met
            gap = (g_max[:, 0] - torch.linalg.vecdot(y, g)).mean()
            done.logical_or_(gap <= tol * value)
        elif tol > 0 and it % check_every == check_every // 2:
            # Frank-Wolfe gap, -N ∇F = g: mean_i (max_k g_ik - y_iᵀ g_i).
            gap = (g_max[:, 0] - torch.linalg.vecdot(y, g)).mean()
            if bool(gap <= tol * value):
                return y, it
        candidate = _relaxed_step(y, g, g_max, eta if accelerate else None, floor)
        new_dots, new_sums, new_value = state(candidate)
        if accelerate or done is not None:
            if not accelerate:  # every step is taken until the rule holds
                accept = ~done
            else:
                accept = (new_value <= value) | (eta == 1.0)
                if done is not None:
                    accept = accept & ~done
            y = torch.where(accept, candidate, y)
            dots = torch.where(accept, new_dots, dots)
            col_sums = torch.where(accept, new_sums, col_sums)
            value = torch.where(accept, new_value, value)
            eta = torch.where(accept, eta * _ETA_GROW,
                              (eta / _ETA_SHRINK).clamp_min(one))
        else:
            y, dots, col_sums, value = candidate, new_dots, new_sums, new_value
        y = _flush_subnormals(y, it, floor, tiny, host=False)
        if callback is not None:
            callback(it, y)
    return y, max_iter


def _project_simplex(v: torch.Tensor) -> torch.Tensor:
    """Euclidean projection of each row of ``v`` onto the probability simplex.

    Sort-based algorithm (Held et al. 1974; Duchi et al. 2008): with ``μ`` the
    row sorted in decreasing order, ``ρ = max{j : μ_j > (Σ_{r<=j} μ_r - 1)/j}``
    and ``θ = (Σ_{r<=ρ} μ_r - 1)/ρ``, the projection is ``max(v - θ, 0)``.
    """
    n_classes = v.shape[1]
    mu = torch.sort(v, dim=1, descending=True).values
    cumsum = mu.cumsum(dim=1) - 1.0
    ranks = torch.arange(1, n_classes + 1, dtype=v.dtype, device=v.device)
    support = (mu * ranks > cumsum).sum(dim=1, keepdim=True).clamp_min(1)
    theta = cumsum.gather(1, support - 1) / support.to(v.dtype)
    return (v - theta).clamp_min(0.0)


def _pgd(sigma, y, loss, lam, u, max_iter, tol, *, callback=None):
    """Projected gradient on the product of simplices with Armijo backtracking.

    The step is shared by all rows (the fairness term couples them). Each
    iteration first tries twice the last accepted step, then halves it until
    ``F(Y+) <= F(Y) + c ⟨∇F(Y), Y+ - Y⟩`` with ``c = 1e-4``. The gradient is in
    closed form; every trial costs one projection and one objective value.
    """
    tiny = torch.finfo(sigma.dtype).tiny
    n_samples = sigma.shape[0]
    lam_u = lam * u
    y = _uniform_start(sigma) if y is None else y
    value = _objective(y, sigma, loss, lam, u)
    grad = _scaled_gradient(y, sigma, loss, lam, lam_u, tiny)
    step = 1.0
    for it in range(max_iter):
        if tol > 0 and bool(_frank_wolfe_gap(y, grad) <= tol * value):
            return y, it
        step *= _PGD_GROW
        for _ in range(_PGD_MAX_BACKTRACKS):
            candidate = _project_simplex(y - step * grad)
            new_value = _objective(candidate, sigma, loss, lam, u)
            decrease = (grad * (candidate - y)).sum() / n_samples
            if bool(new_value <= value + _ARMIJO_C * decrease):
                break
            step *= _ARMIJO_SHRINK
        else:
            # No decrease even for a vanishing step: at the optimum to
            # working precision.
            return y, it
        y, value = candidate, new_value
        grad = _scaled_gradient(y, sigma, loss, lam, lam_u, tiny)
        if callback is not None:
            callback(it, y)
    return y, max_iter


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def solve_pseudo_labels(
    probs: torch.Tensor,
    loss: str = "collision",
    fairness_weight: float = 1.0,
    prior=None,
    method: str = "em",
    max_iter: int = MAX_ITER,
    tol: float = TOL,
    init=None,
) -> tuple[torch.Tensor, int]:
    r"""Solve the y-step of self-labeling clustering.

    Minimises over pseudo-labels ``Y`` (rows on the simplex), with ``σ`` =
    ``probs`` fixed:

    * ``loss="collision"``: ``F(Y) = mean_i -ln(σ_iᵀ y_i) + λ KL(u ‖ ȳ)``;
    * ``loss="reverse"``: ``F(Y) = mean_i -Σ_k σ_ik ln y_ik + λ KL(u ‖ ȳ)``;

    with ``λ = fairness_weight``, ``ȳ = mean_i y_i`` and ``u`` the prior.

    ``method="em"`` applies the closed-form EM (majorise-minimise) updates

    ``y_ik <- (r_ik + λ N u_k s_ik) / (1 + λ N Σ_c u_c s_ic)``,
    ``s_ik = y_ik / Σ_j y_jk``, ``r_ik = σ_ik y_ik / σ_iᵀ y_i`` (collision)
    or ``r_ik = σ_ik`` (reverse), where ``N`` is the number of rows of
    ``probs`` (the batch size when called per mini-batch). ``F`` never
    increases. ``method="pgd"`` is projected gradient descent with Armijo
    backtracking, a generic baseline.

    Parameters
    ----------
    probs : Tensor of shape (n_samples, n_clusters)
        Predicted probabilities ``σ``, rows on the simplex (not checked);
        exact zeros are allowed.
    loss : {"collision", "reverse"}, default="collision"
        The data term of ``F``.
    fairness_weight : float, default=1.0
        ``λ >= 0``, the weight of the fairness term ``KL(u ‖ ȳ)``.
    prior : array-like of shape (n_clusters,), default=None
        Target cluster proportions ``u`` (non-negative, normalised to sum 1);
        ``None`` means uniform.
    method : {"em", "pgd"}, default="em"
        Closed-form EM updates or projected gradient descent.
    max_iter : int, default=100
        Maximum number of iterations (updates of ``Y``).
    tol : float, default=1e-4
        Stop when the Frank-Wolfe gap ``mean_i (y_iᵀ G_i - min_k G_ik)``,
        with ``G = N ∇F(Y)``, is at most ``tol · F(Y)``. By convexity the gap
        bounds ``F(Y) - F*``, so on exit the relative gap
        ``(F(Y) - F*) / F(Y)`` is certified to be at most ``tol``. The gap is
        a first-order bound, loose where optimal rows are not one-hot, so the
        actual gap on exit is often much smaller than ``tol``. The collision
        EM evaluates it from quantities its update computes anyway, every
        iteration on CPU and every 10 iterations on other devices (one
        host-device synchronisation each). ``tol=0`` runs exactly
        ``max_iter`` iterations and never stops early.
    init : {None, "uniform", "probs"} or Tensor, default=None
        Starting point. ``None`` and ``"uniform"`` start from ``1/K``
        everywhere; ``"probs"`` starts from ``probs``; a tensor of shape
        ``(n_samples, n_clusters)`` is used after normalising its rows. EM
        multiplies entries (collision) so an entry that starts at zero stays
        zero: a strictly positive start, such as the
        default, keeps every cluster reachable. (From the uniform start the
        first EM step gives ``(σ + λu) / (1 + λ)`` for uniform ``u``, so
        nothing is lost against starting from ``probs``.)

    Returns
    -------
    Y : Tensor of shape (n_samples, n_clusters)
        Pseudo-labels, same dtype and device as ``probs``, rows on the
        simplex.
    n_iter : int
        Number of iterations run; ``n_iter == max_iter`` with ``tol > 0``
        means the tolerance was not certified.

    See Also
    --------
    pseudo_label_objective : The objective ``F(Y)``.
    sinkhorn_knopp : Equipartitioned labels for the Shannon cross-entropy.

    Notes
    -----
    The defaults suit a call per mini-batch inside a training loop
    (256-1024 rows, about 10 clusters): EM typically certifies a relative gap
    of 1e-4 in a few tens of iterations there.

    Examples
    --------
    >>> import torch
    >>> from skdeepcluster.pseudo_labels import solve_pseudo_labels
    >>> probs = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7]])
    >>> Y, n_iter = solve_pseudo_labels(probs, fairness_weight=1.0, tol=1e-6,
    ...                                 max_iter=1000)
    >>> Y.argmax(dim=1)
    tensor([0, 0, 1, 1])
    >>> torch.allclose(Y.sum(dim=1), torch.ones(4))
    True
    """
    _check_probs(probs)
    _check_choice(loss, _LOSSES, "loss")
    _check_choice(method, _METHODS, "method")
    lam = _check_fairness_weight(fairness_weight)
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or (
        max_iter < 0
    ):
        raise ValueError(f"max_iter must be an int >= 0, got {max_iter!r}.")
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not (
        tol >= 0 and math.isfinite(tol)
    ):
        raise ValueError(f"tol must be a finite float >= 0, got {tol!r}.")
    u = prior_tensor(prior, probs)
    sigma = probs.detach()
    return solve_validated(sigma, _initial_labels(init, sigma), loss, lam, u, method,
                  int(max_iter), float(tol))


def solve_validated(sigma, y, loss, lam, u, method, max_iter, tol):
    """:func:`solve_pseudo_labels` on validated inputs: ``u`` a normalised
    prior tensor like ``sigma``, ``y`` an owned start or None (uniform).

    Training loops call it once per mini-batch, where validating the same
    settings again would cost as much as a few EM iterations. The solver runs
    in inference mode (about 10% less overhead per operation than
    ``no_grad`` on small CPU tensors); the result is copied out of it, so
    callers get an ordinary tensor they may modify or differentiate through.
    """
    solver = _em if method == "em" else _pgd
    with torch.inference_mode():
        y, n_iter = solver(sigma, y, loss, lam, u, max_iter, tol)
    return y.clone(), n_iter


def solve_in_budget(sigma, loss, lam, u, n_iter, tol):
    """``n_iter`` EM iterations from the uniform start on validated inputs
    (as :func:`solve_validated`), none of which waits for the device, and
    whether they reached the certified gap ``tol``.

    Returns ``(y, missed)``: ``missed`` is a device tensor of two 0/1 values,
    1 where the Frank-Wolfe gap was still above ``tol`` times ``F`` after
    ``max(1, n_iter // 2)`` iterations (first value) and after ``n_iter``
    (second). A caller that reads them once in a while (a training loop
    once per epoch) can set the next budget from them without a wait per
    solve.
    """
    probed_after, lam_u = (max(1, n_iter // 2), n_iter), lam * u
    missed = torch.zeros(2, dtype=sigma.dtype, device=sigma.device)

    def probe(it, y):  # called after iteration it + 1
        for slot, after in enumerate(probed_after):
            if it + 1 == after:
                missed[slot] = ~_certified(y, sigma, loss, lam, u, lam_u, tol)

    with torch.inference_mode():
        done = torch.zeros((), dtype=torch.bool, device=sigma.device)
        y, _ = _em(sigma, None, loss, lam, u, n_iter, tol, callback=probe,
                   done=done)
    return y.clone(), missed.clone()


def _initial_labels(init, sigma: torch.Tensor) -> torch.Tensor | None:
    """A fresh (owned) starting point for the solvers; None for the uniform
    start (from which the collision EM takes its first step in closed form)."""
    if init is None or (isinstance(init, str) and init == "uniform"):
        return None  # the solvers' uniform start
    if isinstance(init, str) and init == "probs":
        return sigma.clone()
    if not isinstance(init, torch.Tensor) or init.shape != sigma.shape:
        shape = getattr(init, "shape", None)
        raise ValueError(
            "init must be None, 'uniform', 'probs' or a tensor of shape "
            f"{tuple(sigma.shape)}, got {init!r}"
            + (f" of shape {tuple(shape)}." if shape is not None else ".")
        )
    y = init.detach().to(dtype=sigma.dtype, device=sigma.device)
    return y / y.sum(dim=1, keepdim=True)


def pseudo_label_objective(
    Y: torch.Tensor,
    probs: torch.Tensor,
    loss: str = "collision",
    fairness_weight: float = 1.0,
    prior=None,
) -> torch.Tensor:
    r"""The y-step objective ``F(Y)`` minimised by :func:`solve_pseudo_labels`.

    ``F(Y) = mean_i -ln(σ_iᵀ y_i) + λ KL(u ‖ ȳ)`` (collision) or
    ``F(Y) = mean_i -Σ_k σ_ik ln y_ik + λ KL(u ‖ ȳ)`` (reverse). It is
    ``+inf`` where a term is, e.g. when a cluster with ``u_k > 0`` is empty.

    Parameters
    ----------
    Y : Tensor of shape (n_samples, n_clusters)
        Pseudo-labels, rows on the simplex.
    probs : Tensor of shape (n_samples, n_clusters)
        Predicted probabilities ``σ``.
    loss : {"collision", "reverse"}, default="collision"
        The data term.
    fairness_weight : float, default=1.0
        ``λ >= 0``.
    prior : array-like of shape (n_clusters,), default=None
        Target proportions ``u``; ``None`` means uniform.

    Returns
    -------
    value : Tensor
        A scalar tensor (differentiable in ``Y`` and ``probs``).

    Examples
    --------
    >>> import torch
    >>> from skdeepcluster.pseudo_labels import pseudo_label_objective
    >>> probs = torch.tensor([[0.5, 0.5], [0.5, 0.5]])
    >>> Y = torch.eye(2)
    >>> round(float(pseudo_label_objective(Y, probs)), 4)  # ln 2 + 0
    0.6931
    """
    _check_probs(probs)
    _check_choice(loss, _LOSSES, "loss")
    lam = _check_fairness_weight(fairness_weight)
    if Y.shape != probs.shape:
        raise ValueError(
            f"Y must have the shape of probs {tuple(probs.shape)}, got "
            f"{tuple(Y.shape)}."
        )
    u = prior_tensor(prior, probs)
    return _objective(Y.to(probs.dtype), probs, loss, lam, u)


def sinkhorn_knopp(
    probs: torch.Tensor,
    prior=None,
    *,
    n_iter: int = 50,
    temperature: float = 0.1,
) -> torch.Tensor:
    r"""Equipartitioned soft labels by Sinkhorn-Knopp (SeLa-style).

    Returns ``Q = diag(a) P^(1/temperature) diag(b)``, with ``P = probs``,
    scaled so that every row sums to 1 and the column sums approach
    ``N u_k``: the entropy-regularised optimal transport of the points onto
    clusters of prescribed sizes (Asano et al. 2020; Cuturi 2013). Use the
    result as soft targets for the Shannon :func:`~skdeepcluster.losses.cross_entropy`.
    The scalings are computed in log space (``ln P`` is floored at
    ``ln(torch.finfo(dtype).tiny)``), so no entry overflows and an all-zero
    column still receives its share.

    Parameters
    ----------
    probs : Tensor of shape (n_samples, n_clusters)
        Predicted probabilities.
    prior : array-like of shape (n_clusters,), default=None
        Target cluster proportions ``u``; ``None`` means uniform
        (equipartition).
    n_iter : int, default=50
        Number of Sinkhorn (row, column) scaling rounds; a final row scaling
        makes the rows sum to 1 exactly. The iterations run without any
        host-device synchronisation.
    temperature : float, default=0.1
        Sharpening of ``P``: ``1.0`` gives the KL projection of ``probs`` onto
        the transport polytope; smaller values give nearly hard assignments
        (SeLa raises ``P`` to a power ``1/temperature``) but need more
        iterations to balance the columns.

    Returns
    -------
    Q : Tensor of shape (n_samples, n_clusters)
        Soft labels: rows on the simplex, column sums close to ``N u``.

    Examples
    --------
    >>> import torch
    >>> from skdeepcluster.pseudo_labels import sinkhorn_knopp
    >>> probs = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4]])
    >>> Q = sinkhorn_knopp(probs, temperature=1.0, n_iter=200)
    >>> Q.sum(dim=0).round(decimals=3)
    tensor([2., 2.])
    >>> Q.argmax(dim=1)
    tensor([0, 0, 1, 1])
    """
    _check_probs(probs)
    if isinstance(n_iter, bool) or not isinstance(n_iter, numbers.Integral) or (
        n_iter < 0
    ):
        raise ValueError(f"n_iter must be an int >= 0, got {n_iter!r}.")
    if not (
        isinstance(temperature, numbers.Real)
        and math.isfinite(temperature)
        and temperature > 0
    ):
        raise ValueError(
            f"temperature must be a positive finite float, got {temperature!r}."
        )
    n_samples = probs.shape[0]
    u = prior_tensor(prior, probs)
    with torch.no_grad():
        tiny = torch.finfo(probs.dtype).tiny
        log_kernel = torch.log(probs.detach().clamp_min(tiny)) / temperature
        log_cols = torch.log(u * n_samples)  # -inf for an empty target cluster
        col_scale = torch.zeros_like(log_cols)
        for _ in range(int(n_iter)):
            row_scale = -torch.logsumexp(log_kernel + col_scale, dim=1)
            col_scale = log_cols - torch.logsumexp(
                log_kernel + row_scale[:, None], dim=0
            )
        log_q = log_kernel + col_scale
        return torch.softmax(log_q, dim=1)
