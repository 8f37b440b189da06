"""Property-based tests (hypothesis) of the losses and the pseudo-label solvers.

Random shapes (one row or one class included), logits anywhere in ``±1e4``
(the range the losses promise to handle), and targets and priors with exact
zeros and near-zeros (down to subnormal numbers), drawn element by element so
hypothesis can shrink a failure to its smallest case: every value must be
finite and inside its known bounds, every gradient finite, and every solver
output on the simplex. Examples are few and deadlines off so the file runs in
seconds.

This complements the properties in test_losses.py and test_pseudo_labels.py
(collision <= Shannon, bounds of entropy / MI / weak fairness / reverse CE at
its default floor, solver outputs without a prior) rather than repeating them:
here are the reductions, gradients that ignore a per-row shift, empty target
rows, explicit floors, the complement and focal losses, priors with zeros,
and Sinkhorn-Knopp.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from skdeepcluster import losses
from skdeepcluster.pseudo_labels import (
    pseudo_label_objective,
    sinkhorn_knopp,
    solve_pseudo_labels,
)

# few examples, no deadline (first calls into torch are slow), and the same
# examples on every run so that a failure reproduces
PROFILE = settings(max_examples=40, deadline=None, derandomize=True)

DTYPES = st.sampled_from([torch.float64, torch.float32])
# entries a target may hold: exact zeros, near-zeros, subnormals, ordinary mass
MASS = st.one_of(
    st.sampled_from([0.0, 0.0, 1e-300, 5e-324, 1e-45, 1e-30, 1e-8, 1.0]),
    st.floats(0.0, 1.0),
)


@st.composite
def logits_and_targets(draw, min_classes=1, soft=True, zero_rows=False):
    """(logits, target) tensors: logits in ±1e4, targets on the simplex."""
    n = draw(st.integers(1, 9))
    k = draw(st.integers(min_classes, 7))
    dtype = draw(DTYPES)
    scale = draw(st.sampled_from([1.0, 30.0, 1e4]))
    z = draw(hnp.arrays(np.float64, (n, k), elements=st.floats(-1.0, 1.0)))
    logits = torch.tensor(z * scale, dtype=dtype, requires_grad=True)
    if not soft:
        return logits, torch.tensor(draw(hnp.arrays(np.int64, n,
                                                    elements=st.integers(0, k - 1))))
    y = draw(hnp.arrays(np.float64, (n, k), elements=MASS))
    empty = y.sum(1) == 0
    if not zero_rows:
        y[empty, draw(st.integers(0, k - 1))] = 1.0
    y = y / np.where(empty & zero_rows, 1.0, y.sum(1))[:, None]
    return logits, torch.tensor(y, dtype=dtype)


def tolerance(dtype):
    return 1e-9 if dtype == torch.float64 else 1e-4


def check_gradient(value, logits):
    """Finite gradient whose rows sum to 0 (softmax ignores a shift per row)."""
    (grad,) = torch.autograd.grad(value, logits)
    assert torch.isfinite(grad).all()
    scale = 1.0 + grad.abs().max().item()
    assert grad.sum(1).abs().max().item() <= 1e3 * tolerance(grad.dtype) * scale


def check_reductions(fn, logits, *args, **kwargs):
    """'none', 'mean' and 'sum' agree; the per-sample values are finite."""
    values = fn(logits, *args, reduction="none", **kwargs)
    assert values.shape == (logits.shape[0],) and values.dtype == logits.dtype
    assert torch.isfinite(values).all()
    mean = fn(logits, *args, reduction="mean", **kwargs)
    total = fn(logits, *args, reduction="sum", **kwargs)
    tol = tolerance(logits.dtype) * (1 + values.abs().max().item())
    assert abs(mean.item() - values.mean().item()) <= tol
    assert abs(total.item() - values.sum().item()) <= tol * logits.shape[0]
    return values, mean


# ---------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------

@PROFILE
@given(logits_and_targets(zero_rows=True))
def test_collision_cross_entropy_bounds_and_gradient(data):
    logits, y = data
    values, mean = check_reductions(losses.collision_cross_entropy, logits, y)
    tol = tolerance(logits.dtype) * (1 + values.abs().max().item())
    # a row without any mass contributes 0 (to rounding: it is -ln Σ σ)
    assert (values[y.sum(1) == 0].abs() <= tol).all()
    check_gradient(mean, logits)


@PROFILE
@given(logits_and_targets(), st.booleans())
def test_cross_entropy_is_at_least_the_target_entropy(data, hard):
    logits, y = data
    target = y.argmax(1) if hard else y
    values, mean = check_reductions(losses.cross_entropy, logits, target)
    if not hard:
        # H(y, σ) = H(y) + KL(y ‖ σ) >= H(y) >= 0
        target_entropy = -torch.xlogy(y, y).sum(1)
        tol = tolerance(logits.dtype) * (1 + values.abs().max().item())
        assert (values >= target_entropy - tol).all()
    check_gradient(mean, logits)


@PROFILE
@given(logits_and_targets(), st.sampled_from([1e-3, 1e-12, 1e-30]))
def test_reverse_cross_entropy_is_capped_by_an_explicit_floor(data, eps):
    logits, y = data
    values, mean = check_reductions(losses.reverse_cross_entropy, logits, y, eps=eps)
    tol = tolerance(logits.dtype) * 100
    assert (values >= -tol).all() and (values <= -math.log(eps) + tol).all()
    check_gradient(mean, logits)


def test_reverse_cross_entropy_explicit_eps_below_the_dtype_tiny():
    logits = torch.zeros((1, 2), dtype=torch.float32)
    """An explicit eps that is 0 in float32 is raised to float32's tiny."""
    value = losses.reverse_cross_entropy(logits, torch.tensor([[1.0, 0.0]]), eps=1e-300)
    assert torch.isfinite(value)
    tiny = torch.finfo(torch.float32).tiny
    assert value.item() == pytest.approx(-0.5 * math.log(tiny), rel=1e-6)


@PROFILE
@given(logits_and_targets(soft=False), st.floats(-3.0, 3.0))
def test_complement_losses_bounds_and_true_logit_gradient(data, gamma):
    logits, g = data
    k = logits.shape[1]
    values, mean = check_reductions(losses.complement_entropy, logits, g)
    tol = tolerance(logits.dtype) * 100
    upper = math.log(k - 1) if k > 2 else 0.0
    assert (values >= -tol).all() and (values <= upper + tol).all()
    (grad,) = torch.autograd.grad(mean, logits)
    assert torch.isfinite(grad).all()
    # the complement entropy does not depend on the true logit
    assert grad.gather(1, g[:, None]).abs().max().item() == 0.0
    cce, mean = check_reductions(losses.complement_cross_entropy, logits, g,
                                 gamma=gamma)
    ce = losses.cross_entropy(logits, g, reduction="none")
    expected = ce + (gamma / (k - 1) * values if k > 2 else 0.0)
    assert torch.allclose(cce, expected, rtol=1e-5, atol=tol)
    check_gradient(mean, logits)


@PROFILE
@given(logits_and_targets(soft=False), st.floats(0.0, 5.0))
def test_focal_loss_lies_between_zero_and_cross_entropy(data, gamma):
    logits, g = data
    values, mean = check_reductions(losses.focal_loss, logits, g, gamma=gamma)
    ce = losses.cross_entropy(logits, g, reduction="none")
    tol = tolerance(logits.dtype) * (1 + ce.abs().max().item())
    assert (values >= -tol).all() and (values <= ce + tol).all()
    check_gradient(mean, logits)


@PROFILE
@given(logits_and_targets())
def test_entropy_and_mutual_information_gradients(data):
    logits, _ = data
    tol = tolerance(logits.dtype) * 100
    _, mean = check_reductions(losses.entropy, logits)
    check_gradient(mean, logits)
    mi = losses.mutual_information(logits)
    check_gradient(mi, logits)
    if logits.shape[0] == 1:  # one point: the marginal is the prediction itself
        assert abs(mi.item()) <= tol


@st.composite
def priors(draw, k):
    """None, or k non-negative weights with a positive sum (zeros allowed)."""
    if draw(st.booleans()):
        return None
    u = np.array(draw(st.lists(MASS, min_size=k, max_size=k)))
    if u.max() < 1e-30:  # keep a positive sum after a cast to float32
        u[0] = 1.0
    return u.tolist()


@PROFILE
@given(st.data())
def test_fairness_terms_are_finite_and_bounded(data):
    logits, y = data.draw(logits_and_targets())
    k = logits.shape[1]
    prior = data.draw(priors(k))
    tol = tolerance(logits.dtype) * 100
    weak = losses.weak_fairness(logits, prior=prior)
    assert torch.isfinite(weak) and weak.item() >= -tol
    if prior is None:
        assert weak.item() <= math.log(k) + tol  # ln K - H(σ̄)
    check_gradient(weak, logits)
    # strong fairness of targets whose columns may be empty: large but finite
    strong = losses.strong_fairness(y, prior=prior)
    assert torch.isfinite(strong) and strong.item() >= -tol
    assert strong.item() <= -math.log(torch.finfo(y.dtype).tiny) + tol


# ---------------------------------------------------------------------------
# Pseudo-label solvers
# ---------------------------------------------------------------------------

@st.composite
def probabilities(draw):
    """Predicted probabilities with exact zeros, near-zeros and one-hot rows."""
    logits, y = draw(logits_and_targets())
    if draw(st.booleans()):
        return torch.softmax(logits.detach(), 1)  # extreme logits saturate
    return y


def on_simplex(Y, like):
    tol = 1e-9 if Y.dtype == torch.float64 else 1e-5
    assert Y.shape == like.shape and Y.dtype == like.dtype
    assert torch.isfinite(Y).all() and (Y >= 0).all()
    assert (Y.sum(1) - 1).abs().max().item() <= tol


@PROFILE
@given(st.data(), st.sampled_from(["collision", "reverse"]),
       st.sampled_from(["em", "pgd"]), st.floats(0.0, 50.0))
def test_solver_output_on_simplex_and_no_worse_than_start(data, loss, method, lam):
    probs = data.draw(probabilities()).double()
    prior = data.draw(priors(probs.shape[1]))
    if prior is not None:
        prior = [p + 1e-3 for p in prior]  # a zero prior entry is a separate case
    before = probs.clone()
    Y, n_iter = solve_pseudo_labels(probs, loss=loss, fairness_weight=lam,
                                    prior=prior, method=method, max_iter=50)
    assert torch.equal(probs, before)  # inputs are never modified
    on_simplex(Y, probs)
    assert 0 <= n_iter <= 50
    value = pseudo_label_objective(Y, probs, loss=loss, fairness_weight=lam,
                                   prior=prior)
    start = pseudo_label_objective(torch.full_like(probs, 1 / probs.shape[1]),
                                   probs, loss=loss, fairness_weight=lam,
                                   prior=prior)
    # F >= 0 (both terms are), and neither solver ever increases F
    assert torch.isfinite(value) and value.item() >= -1e-12
    assert value.item() <= start.item() + 1e-9 * (1 + abs(start.item()))


@PROFILE
@given(st.data(), st.sampled_from(["collision", "reverse"]))
def test_solver_float32_and_zero_prior_entries(data, loss):
    probs = data.draw(probabilities()).float()
    prior = data.draw(priors(probs.shape[1]))
    Y, _ = solve_pseudo_labels(probs, loss=loss, fairness_weight=1.0, prior=prior)
    on_simplex(Y, probs)


@PROFILE
@given(st.data(), st.floats(0.05, 1.0), st.integers(0, 60))
def test_sinkhorn_rows_on_simplex(data, temperature, n_iter):
    probs = data.draw(probabilities())
    prior = data.draw(priors(probs.shape[1]))
    Q = sinkhorn_knopp(probs, prior=prior, temperature=temperature, n_iter=n_iter)
    on_simplex(Q, probs)
