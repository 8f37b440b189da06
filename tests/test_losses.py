"""Tests of skdeepcluster.losses: the exact identities of THEORY §1 and stability."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from skdeepcluster import losses as L

DT = torch.float64


# small tensors: extra threads only add contention on a shared machine
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _logits(n=7, k=5, seed=0, scale=2.0, dtype=DT):
    return scale * torch.randn(n, k, generator=_gen(seed), dtype=dtype)


def _simplex(n=7, k=5, seed=1, dtype=DT):
    return torch.softmax(torch.randn(n, k, generator=_gen(seed), dtype=dtype), 1)


def _grad(fn, logits, *args, **kwargs):
    z = logits.clone().requires_grad_(True)
    fn(z, *args, **kwargs).sum().backward()
    return z.grad


# ---------------------------------------------------------------------------
# THEORY §1, properties 1-8 (float64, exact up to rounding)
# ---------------------------------------------------------------------------


def test_collision_equals_shannon_for_one_hot_targets():  # property 1
    z = _logits()
    idx = torch.randint(5, (7,), generator=_gen(3))
    one_hot = F.one_hot(idx, 5).to(DT)
    h2 = L.collision_cross_entropy(z, one_hot, reduction="none")
    h = L.cross_entropy(z, one_hot, reduction="none")
    torch.testing.assert_close(h2, h, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(
        L.collision_cross_entropy(z, idx, reduction="none"), h, rtol=1e-12,
        atol=1e-12,
    )
    torch.testing.assert_close(h, F.cross_entropy(z, idx, reduction="none"))


def test_collision_uniform_target_is_ln_k_with_zero_gradient():  # property 2
    z = _logits(scale=5.0)
    uniform = torch.full_like(z, 1 / 5)
    values = L.collision_cross_entropy(z, uniform, reduction="none")
    torch.testing.assert_close(values, torch.full((7,), math.log(5), dtype=DT))
    grad = _grad(L.collision_cross_entropy, z, uniform)
    assert grad.abs().max() < 1e-15


def test_collision_is_symmetric():  # property 3
    a, b = _simplex(seed=1), _simplex(seed=2)
    h_ab = L.collision_cross_entropy(torch.log(b), a, reduction="none")
    h_ba = L.collision_cross_entropy(torch.log(a), b, reduction="none")
    torch.testing.assert_close(h_ab, h_ba, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("with_zeros", [False, True])
def test_collision_gradient_formula(with_zeros):  # property 4
    z = _logits(scale=3.0)
    y = _simplex(seed=4)
    if with_zeros:
        y = y * (torch.rand(7, 5, generator=_gen(5), dtype=DT) > 0.4)
        y[:, 0] += 0.1  # no empty row
        y = y / y.sum(1, keepdim=True)
    sigma = torch.softmax(z, 1)
    expected = sigma - y * sigma / (y * sigma).sum(1, keepdim=True)
    grad = _grad(L.collision_cross_entropy, z, y)  # reduction="sum" via .sum()
    grad_sum = _grad(lambda t, y: L.collision_cross_entropy(t, y, reduction="sum"),
                     z, y)
    torch.testing.assert_close(grad, expected / 7, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad_sum, expected, rtol=1e-12, atol=1e-14)


def test_collision_below_shannon_and_renyi_two():  # property 5
    z = _logits(scale=3.0)
    for seed in range(5):
        y = _simplex(seed=seed + 10)
        h2 = L.collision_cross_entropy(z, y, reduction="none")
        h = L.cross_entropy(z, y, reduction="none")
        assert torch.all(h2 <= h + 1e-12)
    sigma = torch.softmax(z, 1)
    renyi2 = -torch.log((sigma**2).sum(1))
    torch.testing.assert_close(
        L.collision_cross_entropy(z, sigma, reduction="none"), renyi2
    )


def _minimise(loss_fn, y, steps, lr=2.0):
    z = torch.zeros_like(y, requires_grad=True)
    opt = torch.optim.SGD([z], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(z, y, reduction="sum").backward()
        opt.step()
    return torch.softmax(z.detach(), 1)


def test_minimisers_collision_one_hot_shannon_copies():  # property 6
    y = torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.45, 0.35]], dtype=DT)
    sigma_h2 = _minimise(L.collision_cross_entropy, y, steps=300)
    assert torch.equal(sigma_h2.argmax(1), y.argmax(1))
    assert torch.all(sigma_h2.max(1).values > 0.98)
    sigma_h = _minimise(L.cross_entropy, y, steps=300)
    torch.testing.assert_close(sigma_h, y, atol=1e-6, rtol=0)


def test_collision_convex_in_target():  # property 7
    z = _logits()
    a, b = _simplex(seed=1), _simplex(seed=2)
    fa = L.collision_cross_entropy(z, a, reduction="none")
    fb = L.collision_cross_entropy(z, b, reduction="none")
    for t in np.linspace(0, 1, 11):
        mix = L.collision_cross_entropy(z, t * a + (1 - t) * b, reduction="none")
        assert torch.all(mix <= t * fa + (1 - t) * fb + 1e-12)


# property 8: complement cross-entropy -------------------------------------


def test_cce_gamma_zero_is_cross_entropy():
    z = _logits()
    idx = torch.randint(5, (7,), generator=_gen(2))
    torch.testing.assert_close(
        L.complement_cross_entropy(z, idx, gamma=0.0),
        F.cross_entropy(z, idx),
    )


def test_cce_two_classes_is_cross_entropy():
    z = _logits(k=2, scale=4.0)
    idx = torch.randint(2, (7,), generator=_gen(2))
    for gamma in (-1.0, -3.0, 2.0):
        value = L.complement_cross_entropy(z, idx, gamma=gamma)
        assert torch.equal(value, L.cross_entropy(z, idx))
        torch.testing.assert_close(value, F.cross_entropy(z, idx))


def test_cce_formula_and_sign():
    z = _logits()
    idx = torch.randint(5, (7,), generator=_gen(2))
    sigma = torch.softmax(z, 1)
    p_true = sigma.gather(1, idx[:, None])
    q = sigma / (1 - p_true)
    mask = F.one_hot(idx, 5).bool()
    c = -(q * torch.log(q)).masked_fill(mask, 0).sum(1)
    torch.testing.assert_close(L.complement_entropy(z, idx, reduction="none"), c)
    expected = F.cross_entropy(z, idx, reduction="none") - c / 4
    torch.testing.assert_close(
        L.complement_cross_entropy(z, idx, reduction="none"), expected
    )


def test_complement_term_gives_zero_gradient_to_true_logit():
    z = _logits(scale=3.0)
    idx = torch.randint(5, (7,), generator=_gen(2))
    grad = _grad(L.complement_entropy, z, idx)
    assert torch.all(grad.gather(1, idx[:, None]) == 0)
    assert grad.abs().sum() > 0
    # so the CCE gradient on the true logit is that of the cross-entropy
    g_cce = _grad(L.complement_cross_entropy, z, idx)
    g_ce = _grad(L.cross_entropy, z, idx)
    torch.testing.assert_close(
        g_cce.gather(1, idx[:, None]), g_ce.gather(1, idx[:, None])
    )


def test_one_sgd_step_with_negative_gamma_flattens_wrong_classes():
    z0 = _logits(n=64, k=6, scale=3.0)
    idx = torch.randint(6, (64,), generator=_gen(7))

    def after_step(gamma, lr=0.5):
        z = z0.clone().requires_grad_(True)
        L.complement_cross_entropy(z, idx, gamma=gamma, reduction="sum").backward()
        with torch.no_grad():
            return float(L.complement_entropy(z - lr * z.grad, idx))

    before = float(L.complement_entropy(z0, idx))
    assert after_step(-1.0) > before
    assert after_step(-1.0) > after_step(0.0) > after_step(1.0)


# ---------------------------------------------------------------------------
# Other values
# ---------------------------------------------------------------------------


def test_reverse_cross_entropy_value_and_eps():
    z = _logits()
    y = _simplex(seed=3)
    sigma = torch.softmax(z, 1)
    torch.testing.assert_close(
        L.reverse_cross_entropy(z, y, reduction="none"),
        -(sigma * torch.log(y)).sum(1),
    )
    idx = torch.randint(5, (7,), generator=_gen(2))
    one_hot = F.one_hot(idx, 5).to(DT)
    expected = -math.log(1e-8) * (1 - sigma.gather(1, idx[:, None])[:, 0])
    torch.testing.assert_close(
        L.reverse_cross_entropy(z, one_hot, reduction="none"), expected
    )
    torch.testing.assert_close(
        L.reverse_cross_entropy(z, idx, reduction="none"), expected
    )
    assert float(L.reverse_cross_entropy(z, one_hot, eps=1e-3).max()) <= -math.log(
        1e-3
    )
    with pytest.raises(ValueError, match="eps"):
        L.reverse_cross_entropy(z, y, eps=0.0)


def test_focal_loss_value():
    z = _logits()
    idx = torch.randint(5, (7,), generator=_gen(2))
    p = torch.softmax(z, 1).gather(1, idx[:, None])[:, 0]
    for gamma in (0.0, 0.5, 2.0):
        expected = -((1 - p) ** gamma) * torch.log(p)
        torch.testing.assert_close(
            L.focal_loss(z, idx, gamma=gamma, reduction="none"), expected
        )
    with pytest.raises(ValueError, match="gamma"):
        L.focal_loss(z, idx, gamma=-1.0)


def test_fairness_entropy_and_mutual_information_values():
    z = _logits(scale=2.0)
    sigma = torch.softmax(z, 1)
    mean = sigma.mean(0)
    h_mean = -(mean * torch.log(mean)).sum()
    h_i = -(sigma * torch.log(sigma)).sum(1)
    torch.testing.assert_close(L.entropy(z, reduction="none"), h_i)
    torch.testing.assert_close(L.weak_fairness(z), math.log(5) - h_mean)
    torch.testing.assert_close(L.mutual_information(z), h_mean - h_i.mean())
    prior = torch.tensor([0.1, 0.2, 0.3, 0.2, 0.2], dtype=DT)
    torch.testing.assert_close(
        L.weak_fairness(z, prior=prior), (mean * torch.log(mean / prior)).sum()
    )
    # strong fairness: KL(u || mean), with unnormalised priors normalised
    torch.testing.assert_close(
        L.strong_fairness(sigma), (0.2 * torch.log(0.2 / mean)).sum()
    )
    torch.testing.assert_close(
        L.strong_fairness(sigma, prior=(10 * prior).tolist()),
        (prior * torch.log(prior / mean)).sum(),
    )
    zero_prior = torch.tensor([0.5, 0.5, 0.0, 0.0, 0.0], dtype=DT)
    torch.testing.assert_close(
        L.strong_fairness(sigma, prior=zero_prior),
        (0.5 * torch.log(0.5 / mean[:2])).sum(),
    )


def test_strong_fairness_empty_cluster_is_large_but_finite():
    probs = torch.tensor([[1.0, 0.0], [1.0, 0.0]], dtype=DT)
    value = L.strong_fairness(probs)
    assert torch.isfinite(value) and value > 300


def test_collision_empty_target_row_is_ignored():
    z = _logits(n=3, k=3).requires_grad_(True)
    y = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.2, 0.3, 0.5]], dtype=DT)
    values = L.collision_cross_entropy(z, y, reduction="none")
    values.sum().backward()
    assert values[0] == 0 and torch.all(z.grad[0] == 0)
    assert torch.isfinite(z.grad).all()


# ---------------------------------------------------------------------------
# Gradient checks (float64)
# ---------------------------------------------------------------------------

_IDX = torch.tensor([0, 2, 1, 3, 3])


def _soft_target():
    y = _simplex(n=5, k=4, seed=9)
    y[0, 1] = 0.0
    return y / y.sum(1, keepdim=True)


GRADCHECK_CASES = {
    "collision_soft": lambda z: L.collision_cross_entropy(z, _soft_target()),
    "collision_index": lambda z: L.collision_cross_entropy(z, _IDX),
    "cross_entropy_soft": lambda z: L.cross_entropy(z, _soft_target()),
    "reverse": lambda z: L.reverse_cross_entropy(z, _soft_target()),
    "complement_entropy": lambda z: L.complement_entropy(z, _IDX, reduction="none"),
    "cce": lambda z: L.complement_cross_entropy(z, _IDX, reduction="none"),
    "focal": lambda z: L.focal_loss(z, _IDX, reduction="none"),
    "focal_half": lambda z: L.focal_loss(z, _IDX, gamma=0.5),
    "weak_fairness": lambda z: L.weak_fairness(z, prior=[1, 2, 3, 4]),
    "entropy": lambda z: L.entropy(z, reduction="none"),
    "mutual_information": L.mutual_information,
    "strong_fairness": lambda z: L.strong_fairness(torch.softmax(z, 1)),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK_CASES))
def test_gradcheck(name):
    z = _logits(n=5, k=4, seed=11).requires_grad_(True)
    assert torch.autograd.gradcheck(GRADCHECK_CASES[name], (z,))


def test_gradcheck_collision_in_target():
    z = _logits(n=5, k=4, seed=11)
    y = _soft_target()
    y[0, 1] = 0.3  # strictly positive: ln y is differentiable
    y.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda t: L.collision_cross_entropy(z, t, reduction="none"), (y,)
    )


# ---------------------------------------------------------------------------
# Stability: extreme logits, K = 1, K = 2, float32
# ---------------------------------------------------------------------------


def _all_losses(z, idx, y):
    return {
        "collision_soft": L.collision_cross_entropy(z, y),
        "collision_index": L.collision_cross_entropy(z, idx),
        "cross_entropy": L.cross_entropy(z, y),
        "cross_entropy_index": L.cross_entropy(z, idx),
        "reverse": L.reverse_cross_entropy(z, y),
        "complement_entropy": L.complement_entropy(z, idx),
        "cce": L.complement_cross_entropy(z, idx),
        "focal": L.focal_loss(z, idx),
        "focal_half": L.focal_loss(z, idx, gamma=0.5),
        "weak_fairness": L.weak_fairness(z),
        "weak_fairness_prior": L.weak_fairness(  # a zero prior entry for K > 1
            z, prior=torch.arange(z.shape[1]) + (z.shape[1] == 1)
        ),
        "entropy": L.entropy(z),
        "mutual_information": L.mutual_information(z),
        "strong_fairness": L.strong_fairness(torch.softmax(z, 1)),
    }


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("k", [1, 2, 5])
def test_extreme_logits_finite_values_and_gradients(dtype, k):
    n = 6
    z = 1e4 * torch.randn(n, k, generator=_gen(k), dtype=dtype).sign()
    z[0] = 0.0
    if k > 1:
        z[1, :] = -1e4
        z[1, -1] = 1e4
    idx = torch.arange(n) % k
    y = F.one_hot((idx + 1) % k, k).to(dtype)  # targets that disagree with z
    y[2] = 1.0 / k
    for name in _all_losses(z, idx, y):
        zz = z.clone().requires_grad_(True)
        value = _all_losses(zz, idx, y)[name]
        value.backward()
        assert torch.isfinite(value), name
        assert value.dtype == dtype, name
        assert torch.isfinite(zz.grad).all(), name


def test_single_class_values():
    z = _logits(k=1)
    idx = torch.zeros(7, dtype=torch.long)
    y = torch.ones(7, 1, dtype=DT)
    for name, value in _all_losses(z, idx, y).items():
        if name == "reverse":
            continue
        assert float(value) == 0.0, name
    assert float(L.reverse_cross_entropy(z, y)) == 0.0


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def test_reduction_validation_and_shapes():
    z = _logits()
    idx = torch.randint(5, (7,), generator=_gen(2))
    assert L.cross_entropy(z, idx, reduction="none").shape == (7,)
    torch.testing.assert_close(
        L.entropy(z, reduction="sum"), L.entropy(z, reduction="none").sum()
    )
    for fn in (L.collision_cross_entropy, L.cross_entropy, L.complement_entropy,
               L.focal_loss, L.complement_cross_entropy, L.reverse_cross_entropy):
        with pytest.raises(ValueError, match="reduction.*'avg'"):
            fn(z, idx, reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        L.entropy(z, reduction="max")


def test_target_validation():
    z = _logits()
    with pytest.raises(ValueError, match="shape"):
        L.collision_cross_entropy(z, torch.ones(7, 4, dtype=DT))
    with pytest.raises(ValueError, match="shape"):
        L.cross_entropy(z, torch.zeros(6, dtype=torch.long))
    with pytest.raises(ValueError, match="class indices"):
        L.focal_loss(z, _simplex())
    with pytest.raises(ValueError, match="logits"):
        L.entropy(torch.zeros(3))


@pytest.mark.parametrize(
    "prior", [[0.5, 0.5], [1, -1, 1, 1, 1], [0, 0, 0, 0, 0], [[0.2] * 5],
              [1, 1, float("nan"), 1, 1], "abc"],
)
def test_prior_validation(prior):
    z = _logits()
    with pytest.raises(ValueError, match="prior"):
        L.weak_fairness(z, prior=prior)
    with pytest.raises(ValueError, match="prior"):
        L.strong_fairness(torch.softmax(z, 1), prior=prior)


def test_inputs_not_modified():
    z = _logits()
    y = _simplex()
    z0, y0 = z.clone(), y.clone()
    _all_losses(z, torch.arange(7) % 5, y)
    assert torch.equal(z, z0) and torch.equal(y, y0)


# ---------------------------------------------------------------------------
# Properties on random inputs
# ---------------------------------------------------------------------------

_SHAPES = st.tuples(st.integers(1, 9), st.integers(1, 7))


@st.composite
def _case(draw):
    n, k = draw(_SHAPES)
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.sampled_from([1e-3, 1.0, 30.0, 1e4]))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    gen = _gen(seed)
    z = scale * torch.randn(n, k, generator=gen, dtype=dtype)
    raw = torch.rand(n, k, generator=gen, dtype=dtype)
    raw = raw * (torch.rand(n, k, generator=gen, dtype=dtype) > 0.5)  # zeros
    raw[:, 0] += draw(st.sampled_from([0.0, 1e-30, 1.0]))
    y = raw / raw.sum(1, keepdim=True).clamp_min(torch.finfo(dtype).tiny)
    return z, y


@settings(max_examples=40, deadline=None, derandomize=True)
@given(_case())
def test_property_bounds(case):
    z, y = case
    k = z.shape[1]
    dtype_tol = 1e-4 if z.dtype == torch.float32 else 1e-10
    zz = z.clone().requires_grad_(True)
    h2 = L.collision_cross_entropy(zz, y, reduction="none")
    h = L.cross_entropy(zz, y, reduction="none")
    (h2.sum() + h.sum()).backward()
    assert torch.isfinite(h2).all() and torch.isfinite(h).all()
    assert torch.isfinite(zz.grad).all()
    assert torch.all(h2 >= -dtype_tol)
    assert torch.all(h2 <= h * (1 + dtype_tol) + dtype_tol)
    weak = float(L.weak_fairness(z))
    assert -dtype_tol <= weak <= math.log(k) + dtype_tol
    mi = float(L.mutual_information(z))
    assert -dtype_tol <= mi <= math.log(k) + dtype_tol
    ent = L.entropy(z, reduction="none")
    assert torch.all(ent >= -dtype_tol) and torch.all(ent <= math.log(k) + dtype_tol)
    rev = L.reverse_cross_entropy(z, y, reduction="none")
    eps = max(1e-8, torch.finfo(z.dtype).tiny)
    assert torch.all(rev >= -dtype_tol) and torch.all(rev <= -math.log(eps) + 1e-3)


@pytest.mark.parametrize("prior", [[3e38, 3e38], [1e-40, 1e-40], [1e308, 1e308]])
def test_prior_normalisation_survives_extreme_magnitudes(prior):
    """Huge entries do not overflow the sum, subnormal ones are not lost."""
    probs = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    value = L.strong_fairness(probs, prior=prior)  # KL((.5, .5) || (.75, .25))
    expected = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)
    assert value.item() == pytest.approx(expected, rel=1e-5)


def test_log_prob_forms_match_public_losses():
    # Training computes ln σ once and feeds the private forms; they must be
    # the public losses exactly.
    logits = _logits(40, 6, seed=41)
    target = torch.softmax(_logits(40, 6, seed=42), dim=1)
    log_probs = F.log_softmax(logits, dim=1)
    torch.testing.assert_close(
        L.collision_from_log_probs(log_probs, target.log()).mean(),
        L.collision_cross_entropy(logits, target))
    prior = torch.tensor([0.1, 0.2, 0.3, 0.1, 0.2, 0.1], dtype=logits.dtype)
    for u in (None, prior):
        log_u = None if u is None else L.log_prior(u)
        torch.testing.assert_close(
            L.weak_fairness_from_log_probs(log_probs, log_u),
            L.weak_fairness(logits, u))
