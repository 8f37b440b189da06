"""Tests of skdeepcluster.pseudo_labels: the y-step of THEORY §3."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from skdeepcluster import pseudo_labels as pl
from skdeepcluster.pseudo_labels import (
    pseudo_label_objective,
    sinkhorn_knopp,
    solve_pseudo_labels,
)

DT = torch.float64


# small tensors: extra threads only add contention on a shared machine
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _probs(n, k, seed=0, scale=3.0, dtype=DT):
    gen = torch.Generator().manual_seed(seed)
    return torch.softmax(scale * torch.randn(n, k, generator=gen, dtype=dtype), 1)


def _uniform(k, dtype=DT):
    return torch.full((k,), 1.0 / k, dtype=dtype)


def _assert_simplex(y, atol=1e-10):
    assert torch.isfinite(y).all()
    assert torch.all(y >= 0)
    torch.testing.assert_close(
        y.sum(1), torch.ones(y.shape[0], dtype=y.dtype), atol=atol, rtol=0
    )


def _scaled_gradient(y, probs, loss, lam, prior=None):
    """N ∂F/∂y, written out from THEORY §3."""
    k = probs.shape[1]
    u = _uniform(k) if prior is None else prior / prior.sum()
    if loss == "collision":
        data = -probs / (probs * y).sum(1, keepdim=True)
    else:
        data = -probs / y
    return data - lam * u / y.mean(0)


def _trajectory(method, probs, loss, lam, n_iter, prior=None, **kwargs):
    values = []
    u = _uniform(probs.shape[1]) if prior is None else prior / prior.sum()
    y0 = torch.full_like(probs, 1.0 / probs.shape[1])

    def record(it, y):
        values.append(float(pseudo_label_objective(y, probs, loss, lam, prior)))

    solver = pl._em if method == "em" else pl._pgd
    solver(probs, y0, loss, lam, u, n_iter, 0.0, callback=record, **kwargs)
    start = float(pseudo_label_objective(y0, probs, loss, lam, prior))
    return [start] + values


# ---------------------------------------------------------------------------
# Monotonicity, limits, zeros
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["collision", "reverse"])
@pytest.mark.parametrize("lam", [0.0, 0.5, 5.0])
@pytest.mark.parametrize("accelerate", [True, False])
def test_em_never_increases_objective(loss, lam, accelerate):
    probs = _probs(300, 8, seed=1)
    prior = torch.tensor([4, 1, 1, 1, 1, 1, 1, 2], dtype=DT)
    for p in (None, prior):
        values = _trajectory("em", probs, loss, lam, 150, prior=p,
                             accelerate=accelerate)
        diffs = torch.tensor(values[1:]) - torch.tensor(values[:-1])
        assert torch.all(diffs <= 1e-13 * abs(values[0])), (loss, lam, p)
        assert values[-1] < values[0]


def test_pgd_never_increases_objective():
    probs = _probs(300, 8, seed=1)
    values = _trajectory("pgd", probs, "collision", 2.0, 60)
    diffs = torch.tensor(values[1:]) - torch.tensor(values[:-1])
    assert torch.all(diffs <= 0)


@pytest.mark.parametrize("method", ["em", "pgd"])
def test_collision_without_fairness_gives_one_hot_argmax(method):
    probs = _probs(200, 6, seed=2)
    y, _ = solve_pseudo_labels(probs, fairness_weight=0.0, method=method,
                               tol=1e-12, max_iter=2000)
    assert torch.equal(y.argmax(1), probs.argmax(1))
    assert torch.all(y.max(1).values > 1 - 1e-6)
    y, _ = solve_pseudo_labels(probs, fairness_weight=0.0, method=method,
                               tol=0, max_iter=300)
    assert torch.equal(y, torch.eye(6, dtype=DT)[probs.argmax(1)])


def test_reverse_without_fairness_gives_probs_after_one_step():
    probs = _probs(50, 5, seed=3)
    y, n_iter = solve_pseudo_labels(probs, loss="reverse", fairness_weight=0.0,
                                    max_iter=1, tol=0)
    assert n_iter == 1
    torch.testing.assert_close(y, probs, rtol=1e-15, atol=1e-15)


def test_em_one_step_from_uniform_matches_theory():
    # Y1 = (σ + λu) / (1 + λ) from the uniform start, for both losses.
    probs, lam = _probs(40, 4, seed=4), 0.7
    expected = (probs + lam / 4) / (1 + lam)
    for loss in ("collision", "reverse"):
        y, _ = solve_pseudo_labels(probs, loss=loss, fairness_weight=lam,
                                   max_iter=1, tol=0)
        torch.testing.assert_close(y, expected)


def test_em_update_formula_from_a_general_point():
    # One plain EM step, written as in THEORY §3 with s_ik = y_ik / Σ_j y_jk.
    probs, lam = _probs(30, 5, seed=5), 1.3
    y0 = _probs(30, 5, seed=6, scale=1.0)
    prior = torch.tensor([1.0, 2.0, 3.0, 1.0, 3.0], dtype=DT)
    u = prior / prior.sum()
    n = probs.shape[0]
    s = y0 / y0.sum(0)
    r = probs * y0 / (probs * y0).sum(1, keepdim=True)
    expected = (r + lam * n * u * s) / (1 + lam * n * (u * s).sum(1, keepdim=True))
    y, _ = pl._em(probs, y0.clone(), "collision", lam, u, 1, 0.0, accelerate=False)
    torch.testing.assert_close(y, expected)
    r = probs
    expected = (r + lam * n * u * s) / (1 + lam * n * (u * s).sum(1, keepdim=True))
    y, _ = pl._em(probs, y0.clone(), "reverse", lam, u, 1, 0.0)
    torch.testing.assert_close(y, expected)


def test_zero_entries_stay_zero():
    probs = _probs(100, 5, seed=7)
    init = _probs(100, 5, seed=8, scale=1.0)
    mask = torch.rand(100, 5, generator=torch.Generator().manual_seed(9)) < 0.3
    mask[:, 0] = False
    init = init.masked_fill(mask, 0.0)
    init_copy = init.clone()
    y, _ = solve_pseudo_labels(probs, fairness_weight=1.0, init=init,
                               max_iter=200, tol=0)
    assert torch.all(y[mask] == 0)
    _assert_simplex(y)
    assert torch.equal(init, init_copy)


def test_fairness_keeps_every_entry_positive():
    # Over-relaxed steps could underflow entries to zero, which EM can never
    # undo; with fairness, entries are kept above eps² instead.
    probs = _probs(200, 8, seed=25, scale=6.0)
    for dtype in (torch.float32, torch.float64):
        y, _ = solve_pseudo_labels(probs.to(dtype), fairness_weight=1.0, tol=0,
                                   max_iter=300)
        assert float(y.min()) >= torch.finfo(dtype).eps ** 2
        _assert_simplex(y, atol=1e-5)


def test_init_options():
    probs = _probs(64, 4, seed=10)
    a, _ = solve_pseudo_labels(probs, init=None, max_iter=3, tol=0)
    b, _ = solve_pseudo_labels(probs, init="uniform", max_iter=3, tol=0)
    c, _ = solve_pseudo_labels(probs, init=3.0 * torch.ones_like(probs),
                               max_iter=3, tol=0)
    assert torch.equal(a, b)
    torch.testing.assert_close(a, c)
    d, _ = solve_pseudo_labels(probs, init="probs", max_iter=0, tol=0)
    torch.testing.assert_close(d, probs)


# ---------------------------------------------------------------------------
# Optimality
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["collision", "reverse"])
@pytest.mark.parametrize("lam", [0.3, 2.0])
def test_kkt_conditions_at_convergence(loss, lam):
    probs = _probs(400, 7, seed=11)
    prior = torch.tensor([3, 1, 1, 1, 1, 1, 2], dtype=DT)
    y, n_iter = solve_pseudo_labels(probs, loss=loss, fairness_weight=lam,
                                    prior=prior, tol=1e-10, max_iter=20000)
    assert n_iter < 20000
    grad = _scaled_gradient(y, probs, loss, lam, prior)
    g_min = grad.min(1, keepdim=True).values
    # Equal on the support of y_i ...
    support = y > 1e-3
    spread = (grad - g_min)[support] / g_min.abs().expand_as(grad)[support]
    assert torch.all(spread < 1e-5)
    # ... and no smaller off it: all of y_i's mass sits at the minimum.
    complementarity = (y * (grad - g_min)).sum(1)
    assert torch.all(complementarity < 1e-7)
    assert complementarity.mean() < 1e-10


@pytest.mark.parametrize("n,k,lam", [(64, 3, 1.0), (1024, 20, 2.0), (256, 100, 0.5)])
def test_em_and_pgd_agree(n, k, lam):
    # Both stop on a certified relative gap of 1e-6, so their optima agree to
    # 1e-6 whichever is closer to F*.
    probs = _probs(n, k, seed=n + k)
    y_em, n_em = solve_pseudo_labels(probs, fairness_weight=lam, tol=1e-6,
                                     max_iter=5000)
    y_pgd, n_pgd = solve_pseudo_labels(probs, fairness_weight=lam, method="pgd",
                                       tol=1e-6, max_iter=5000)
    assert n_em < 5000 and n_pgd < 5000
    f_em = float(pseudo_label_objective(y_em, probs, fairness_weight=lam))
    f_pgd = float(pseudo_label_objective(y_pgd, probs, fairness_weight=lam))
    assert abs(f_em - f_pgd) <= 1e-6 * f_em
    _assert_simplex(y_em)
    _assert_simplex(y_pgd)


def test_stopping_rule_certifies_relative_gap():
    probs = _probs(500, 10, seed=12)
    ref, _ = solve_pseudo_labels(probs, fairness_weight=2.0, tol=1e-12,
                                 max_iter=20000)
    f_star = float(pseudo_label_objective(ref, probs, fairness_weight=2.0))
    for tol in (1e-2, 1e-4, 1e-6):
        y, n_iter = solve_pseudo_labels(probs, fairness_weight=2.0, tol=tol,
                                        max_iter=20000)
        f = float(pseudo_label_objective(y, probs, fairness_weight=2.0))
        assert (f - f_star) <= tol * f
        assert 0 < n_iter < 20000


def test_default_reaches_1e4_quickly_on_a_training_batch():
    probs = _probs(512, 10, seed=13)
    y, n_iter = solve_pseudo_labels(probs)
    ref, _ = solve_pseudo_labels(probs, tol=1e-12, max_iter=20000)
    f = float(pseudo_label_objective(y, probs))
    f_star = float(pseudo_label_objective(ref, probs))
    assert n_iter < 50
    assert f - f_star <= 1e-4 * f_star


def test_tol_zero_runs_exactly_max_iter():
    probs = _probs(32, 4, seed=14)
    for method in ("em", "pgd"):
        _, n_iter = solve_pseudo_labels(probs, method=method, max_iter=7, tol=0)
        assert n_iter == 7


# ---------------------------------------------------------------------------
# Robustness
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("k", [1, 2, 6])
@pytest.mark.parametrize("loss", ["collision", "reverse"])
@pytest.mark.parametrize("method", ["em", "pgd"])
def test_extreme_inputs(dtype, k, loss, method):
    gen = torch.Generator().manual_seed(k)
    logits = 1e4 * torch.randn(40, k, generator=gen, dtype=dtype)
    probs = torch.softmax(logits, 1)  # exact zeros and ones
    probs[0] = 1.0 / k
    if k > 1:
        probs[:, -1] = 0.0  # a cluster nobody predicts
        probs = probs / probs.sum(1, keepdim=True)
        probs[torch.isnan(probs)] = 1.0 / k
    probs_copy = probs.clone()
    for lam in (0.0, 1.0):
        y, _ = solve_pseudo_labels(probs, loss=loss, fairness_weight=lam,
                                   method=method, max_iter=50)
        assert y.dtype == dtype and y.shape == probs.shape
        _assert_simplex(y, atol=1e-5 if dtype == torch.float32 else 1e-10)
        value = pseudo_label_objective(y, probs, loss, lam)
        assert torch.isfinite(value)
        if lam > 0 and k > 1 and loss == "collision" and method == "em":
            assert float(y[:, -1].sum()) > 0  # fairness fills the empty cluster
    assert torch.equal(probs, probs_copy)


def test_float32_matches_float64():
    probs = _probs(256, 10, seed=15)
    y64, _ = solve_pseudo_labels(probs, tol=1e-6, max_iter=1000)
    y32, _ = solve_pseudo_labels(probs.float(), tol=1e-4, max_iter=1000)
    assert y32.dtype == torch.float32
    f64 = float(pseudo_label_objective(y64, probs))
    f32 = float(pseudo_label_objective(y32.double(), probs))
    assert abs(f32 - f64) <= 2e-4 * f64


def test_gradient_inputs_are_detached():
    probs = _probs(20, 3, seed=16).requires_grad_(True)
    y, _ = solve_pseudo_labels(probs)
    assert not y.requires_grad
    q = sinkhorn_knopp(probs)
    assert not q.requires_grad


@pytest.mark.parametrize("lam", [0.0, 0.5, 3.0])
def test_sync_free_path_matches_host_path(lam):
    # The accelerator path (acceptance by torch.where, check every 10
    # iterations) makes the same decisions as the CPU path (Python ifs).
    probs = _probs(300, 12, seed=24)
    u = _uniform(12)
    start = torch.full_like(probs, 1 / 12)
    for tol, max_iter in ((0.0, 40), (0.0, 60), (1e-6, 2000)):
        y_host, n_host = pl._em(probs, start.clone(), "collision", lam, u,
                                max_iter, tol, sync_free=False)
        y_free, n_free = pl._em(probs, start.clone(), "collision", lam, u,
                                max_iter, tol, sync_free=True)
        f_host = float(pseudo_label_objective(y_host, probs, fairness_weight=lam))
        f_free = float(pseudo_label_objective(y_free, probs, fairness_weight=lam))
        if tol == 0:
            assert n_host == n_free == max_iter
            if max_iter == 40:  # while F still moves: the same steps
                torch.testing.assert_close(y_free, y_host, rtol=1e-9, atol=1e-12)
            # Once F has settled to its last bits (by about 50 iterations
            # here), accepting a step compares two equal values up to
            # rounding, which may tip either way on a given CPU; the paths
            # then differ only along directions F does not see.
            assert f_free == pytest.approx(f_host, rel=1e-12)
        else:
            # Rounding (exp(log) against a product) can flip a borderline
            # acceptance, so the paths need not match iteration for iteration.
            assert n_free < 2 * n_host + 10
            assert f_free <= f_host * (1 + 1e-6)
    values = _trajectory("em", probs, "collision", lam, 100, sync_free=True)
    assert all(b <= a * (1 + 1e-13) for a, b in zip(values, values[1:]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    probs = _probs(512, 20, seed=17)
    for method in ("em", "pgd"):
        y_cpu, _ = solve_pseudo_labels(probs, method=method, tol=1e-8,
                                       max_iter=3000)
        y_gpu, _ = solve_pseudo_labels(probs.cuda(), method=method, tol=1e-8,
                                       max_iter=3000)
        assert y_gpu.device.type == "cuda"
        f_cpu = float(pseudo_label_objective(y_cpu, probs))
        f_gpu = float(pseudo_label_objective(y_gpu.cpu(), probs))
        assert abs(f_cpu - f_gpu) <= 1e-7 * f_cpu
    q = sinkhorn_knopp(probs.cuda())
    torch.testing.assert_close(q.cpu(), sinkhorn_knopp(probs))


# ---------------------------------------------------------------------------
# Objective, Sinkhorn, validation
# ---------------------------------------------------------------------------


def test_objective_values():
    probs = _probs(10, 3, seed=18)
    y = _probs(10, 3, seed=19, scale=1.0)
    mean = y.mean(0)
    fair = (1 / 3 * torch.log((1 / 3) / mean)).sum()
    expected = -torch.log((probs * y).sum(1)).mean() + 0.5 * fair
    torch.testing.assert_close(
        pseudo_label_objective(y, probs, "collision", 0.5), expected
    )
    expected = -(probs * torch.log(y)).sum(1).mean() + 0.5 * fair
    torch.testing.assert_close(
        pseudo_label_objective(y, probs, "reverse", 0.5), expected
    )
    empty = torch.zeros_like(y)
    empty[:, 0] = 1.0
    assert pseudo_label_objective(empty, probs) == math.inf


@pytest.mark.parametrize("temperature", [1.0, 0.1])
def test_sinkhorn_marginals(temperature):
    probs = _probs(300, 6, seed=20)
    prior = torch.tensor([1, 1, 2, 2, 3, 3], dtype=DT)
    for p, target in ((None, torch.full((6,), 50.0, dtype=DT)),
                      (prior, 300 * prior / prior.sum())):
        q = sinkhorn_knopp(probs, prior=p, temperature=temperature, n_iter=500)
        _assert_simplex(q)
        torch.testing.assert_close(q.sum(0), target, rtol=1e-6, atol=1e-6)


def test_sinkhorn_default_balances_a_training_batch():
    probs = _probs(512, 10, seed=21)
    q = sinkhorn_knopp(probs)
    _assert_simplex(q)
    assert float((q.sum(0) / 51.2 - 1).abs().max()) < 0.05


def test_sinkhorn_is_a_diagonal_scaling_and_sharpens():
    probs = _probs(100, 4, seed=22)
    q = sinkhorn_knopp(probs, temperature=1.0, n_iter=300)
    # ln q - ln p = a_i + b_k: the double differences vanish
    d = torch.log(q) - torch.log(probs)
    dd = d - d[:, :1] - d[:1, :] + d[0, 0]
    assert float(dd.abs().max()) < 1e-9
    sharp = sinkhorn_knopp(probs, temperature=0.1, n_iter=300)
    ent = -(q * torch.log(q)).sum(1).mean()
    ent_sharp = -(sharp * torch.log(sharp.clamp_min(1e-300))).sum(1).mean()
    assert ent_sharp < ent


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sinkhorn_extreme_inputs(dtype):
    probs = torch.softmax(1e4 * torch.randn(50, 5, dtype=dtype,
                          generator=torch.Generator().manual_seed(0)), 1)
    probs[:, 4] = 0.0  # nobody predicts the last cluster
    probs = probs / probs.sum(1, keepdim=True)
    probs[torch.isnan(probs)] = 0.2
    q = sinkhorn_knopp(probs, temperature=0.05)
    _assert_simplex(q, atol=1e-5)
    assert float(q[:, 4].sum()) > 1.0
    q1 = sinkhorn_knopp(torch.ones(7, 1, dtype=dtype))
    assert torch.equal(q1, torch.ones(7, 1, dtype=dtype))


def test_validation_errors():
    probs = _probs(10, 3)
    with pytest.raises(ValueError, match="loss.*'shannon'"):
        solve_pseudo_labels(probs, loss="shannon")
    with pytest.raises(ValueError, match="method.*'newton'"):
        solve_pseudo_labels(probs, method="newton")
    with pytest.raises(ValueError, match="prior"):
        solve_pseudo_labels(probs, prior=[1, 2])
    with pytest.raises(ValueError, match="prior"):
        solve_pseudo_labels(probs, prior=[1, -1, 1])
    with pytest.raises(ValueError, match="fairness_weight.*-1"):
        solve_pseudo_labels(probs, fairness_weight=-1)
    with pytest.raises(ValueError, match="max_iter"):
        solve_pseudo_labels(probs, max_iter=2.5)
    with pytest.raises(ValueError, match="tol"):
        solve_pseudo_labels(probs, tol=-1e-3)
    with pytest.raises(ValueError, match="init"):
        solve_pseudo_labels(probs, init=torch.ones(3, 3))
    with pytest.raises(ValueError, match="init"):
        solve_pseudo_labels(probs, init="kmeans")
    with pytest.raises(ValueError, match="probs"):
        solve_pseudo_labels(probs[0])
    with pytest.raises(ValueError, match="loss"):
        pseudo_label_objective(probs, probs, loss="x")
    with pytest.raises(ValueError, match="temperature"):
        sinkhorn_knopp(probs, temperature=0)
    with pytest.raises(ValueError, match="n_iter"):
        sinkhorn_knopp(probs, n_iter=-1)
    with pytest.raises(ValueError, match="prior"):
        sinkhorn_knopp(probs, prior=[0, 0, 0])


def test_project_simplex():
    gen = torch.Generator().manual_seed(23)
    v = 3 * torch.randn(200, 7, generator=gen, dtype=DT)
    p = pl._project_simplex(v)
    _assert_simplex(p)
    # optimality: v - p = θ_i on the support, <= θ_i off it
    r = v - p
    theta = r.masked_fill(p == 0, -math.inf).max(1, keepdim=True).values
    torch.testing.assert_close(r[p > 0], theta.expand_as(r)[p > 0])
    assert torch.all(r[p == 0] <= theta.expand_as(r)[p == 0] + 1e-12)
    s = _probs(5, 7)
    torch.testing.assert_close(pl._project_simplex(s), s)


# ---------------------------------------------------------------------------
# Properties on random problems
# ---------------------------------------------------------------------------


@st.composite
def _problem(draw):
    n = draw(st.integers(1, 60))
    k = draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.sampled_from([0.1, 3.0, 50.0, 1e4]))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    probs = _probs(n, k, seed=seed, scale=scale, dtype=dtype)
    lam = draw(st.sampled_from([0.0, 0.1, 1.0, 10.0]))
    loss = draw(st.sampled_from(["collision", "reverse"]))
    method = draw(st.sampled_from(["em", "em", "pgd"]))
    return probs, lam, loss, method


@settings(max_examples=40, deadline=None, derandomize=True)
@given(_problem())
def test_property_solver_output(problem):
    probs, lam, loss, method = problem
    y, n_iter = solve_pseudo_labels(probs, loss=loss, fairness_weight=lam,
                                    method=method, max_iter=30)
    assert 0 <= n_iter <= 30
    assert y.dtype == probs.dtype
    _assert_simplex(y, atol=1e-5 if probs.dtype == torch.float32 else 1e-10)
    start = torch.full_like(probs, 1.0 / probs.shape[1])
    f_start = float(pseudo_label_objective(start.double(), probs.double(), loss,
                                           lam))
    f_end = float(pseudo_label_objective(y.double(), probs.double(), loss, lam))
    if math.isfinite(f_start):
        assert f_end <= f_start + 1e-5 * abs(f_start) + 1e-6


@pytest.mark.parametrize("lam", [0.0, 0.5, 3.0])
@pytest.mark.parametrize("sync_free", [False, True])
def test_closed_form_first_step_is_one_em_step(lam, sync_free):
    # From the uniform start (y=None) the first EM step is taken in closed
    # form; it must be the step the loop takes from an explicit uniform start,
    # and the over-relaxation must go on from the same state.
    probs = _probs(200, 7, seed=31)
    u = _uniform(7)
    start = torch.full_like(probs, 1 / 7)
    for max_iter in (1, 12):
        y_closed, n_closed = pl._em(probs, None, "collision", lam, u, max_iter,
                                    0.0, sync_free=sync_free)
        y_loop, n_loop = pl._em(probs, start.clone(), "collision", lam, u,
                                max_iter, 0.0, sync_free=sync_free)
        assert n_closed == n_loop == max_iter
        torch.testing.assert_close(y_closed, y_loop, rtol=1e-9, atol=1e-12)
    # no iteration asked for: the uniform start itself
    y0, n0 = pl._em(probs, None, "collision", lam, u, 0, 1e-4)
    assert n0 == 0 and torch.equal(y0, start)


def test_result_is_an_ordinary_tensor():
    # The solver runs in inference mode; what it returns must not be an
    # inference tensor (users modify labels in place or track gradients).
    probs = _probs(50, 4, seed=32)
    for method in ("em", "pgd"):
        y, _ = solve_pseudo_labels(probs, method=method)
        assert not y.is_inference()
        y.mul_(1.0)
        assert y.clone().requires_grad_(True).requires_grad


@pytest.mark.parametrize("lam", [0.0, 1.0])
def test_the_accelerator_path_waits_only_for_its_stopping_tests(
        lam, synchronising_calls):
    # One wait per test of the stopping rule, none to set up the floor or
    # the fairness constants. In 13 iterations the rule is tested once (at
    # iteration 5; the next test would be at 15), so a tolerance the solve
    # never reaches costs one wait, and tol=0 (never tested) none.
    probs = _probs(256, 10, seed=3)
    u = _uniform(10)
    for tol, expected in ((0.0, 0), (1e-30, 1)):
        counter = synchronising_calls()
        with counter:
            _, n_iter = pl._em(probs, None, "collision", lam, u, 13, tol,
                               sync_free=True)
        assert n_iter == 13
        assert counter.count == expected
