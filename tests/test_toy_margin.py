"""THEORY §4: the 1-D toy facts, built on the library's own losses and y-step.

Fifty evenly spaced points on [0, 1] and fifty on [3, 10]:

* exact 2-means cuts the right group (threshold ≈ 3.93);
* self-labeling with a linear softmax head (EM y-step with the collision loss
  and fairness, then a collision cross-entropy network step) and a small
  weight penalty puts the boundary inside the gap, near 2.2;
* without the penalty the loss keeps falling towards 0 while ‖w‖ grows: the
  margin is not pinned down.

And the soft-label fact: points with uniform targets leave the model
unchanged under the collision cross-entropy but pull its predictions to
uniform under the Shannon cross-entropy.
"""

import functools

import numpy as np
import pytest
import torch

from skdeepcluster import losses
from skdeepcluster.pseudo_labels import solve_pseudo_labels

DT = torch.float64
X = torch.cat([torch.linspace(0, 1, 50, dtype=DT), torch.linspace(3, 10, 50, dtype=DT)])
FAIRNESS = 1.0


@pytest.fixture(autouse=True)
def _one_thread():
    # Hundreds of tiny tensor operations: extra threads only add contention.
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)


def _two_means_threshold(x):
    """Exact 1-D 2-means by searching every split of the sorted data."""
    xs = np.sort(np.asarray(x, dtype=np.float64))
    best = None
    for split in range(1, len(xs)):
        left, right = xs[:split], xs[split:]
        cost = ((left - left.mean()) ** 2).sum() + ((right - right.mean()) ** 2).sum()
        if best is None or cost < best[0]:
            best = (cost, split, (left.mean() + right.mean()) / 2)
    return best[1], best[2]


def _logits(w, b):
    return X[:, None] * w + b


def _boundary(w, b):
    return float(-(b[0] - b[1]) / (w[0] - w[1]))


@functools.cache
def _self_label(penalty, n_outer=100, n_inner=10, lr=0.2, seed=0):
    """Full-batch self-labeling of the toy with a linear 2-logit softmax model.

    Alternates the EM y-step (collision loss, fairness weight 1) with ``n_inner``
    Adam steps on ``mean_i H₂(y_i, σ_i) + penalty ‖w‖²``. Returns the history
    of (self-labeling loss, ‖w‖, boundary) after each outer iteration
    (cached: deterministic, and shared by two tests).
    """
    gen = torch.Generator().manual_seed(seed)
    w = (0.1 * torch.randn(2, generator=gen, dtype=DT)).requires_grad_(True)
    b = torch.zeros(2, dtype=DT, requires_grad=True)
    optimizer = torch.optim.Adam([w, b], lr=lr)
    history = []
    for _ in range(n_outer):
        with torch.no_grad():
            probs = torch.softmax(_logits(w, b), dim=1)
        labels, _ = solve_pseudo_labels(probs, fairness_weight=FAIRNESS, tol=1e-6,
                                        max_iter=500)
        for _ in range(n_inner):
            optimizer.zero_grad()
            loss = losses.collision_cross_entropy(_logits(w, b), labels)
            (loss + penalty * (w**2).sum()).backward()
            optimizer.step()
        with torch.no_grad():
            value = losses.collision_cross_entropy(_logits(w, b), labels)
            value = value + FAIRNESS * losses.strong_fairness(labels)
            history.append((float(value), float(w.norm()), _boundary(w, b)))
    return tuple(history)


def test_two_means_cuts_the_right_group():
    split, threshold = _two_means_threshold(X)
    assert threshold == pytest.approx(3.93, abs=0.01)
    assert split == 57  # seven points of [3, 10] join the left cluster
    assert 3 < threshold < 10


def test_weight_penalty_puts_the_boundary_in_the_gap():
    history = _self_label(penalty=1e-3)
    loss, norm, boundary = history[-1]
    assert 1 < boundary < 3
    assert boundary == pytest.approx(2.2, abs=0.1)
    # converged: the boundary and the weights have stopped moving
    assert abs(history[-20][2] - boundary) < 1e-3
    assert abs(history[-20][1] - norm) < 1e-3
    _, km_threshold = _two_means_threshold(X)
    assert km_threshold - boundary > 1.5  # a different answer from 2-means


def test_without_penalty_loss_falls_while_weights_grow():
    history = _self_label(penalty=0.0)
    checkpoints = [history[i] for i in (10, 25, 50, 75, 99)]
    values = [c[0] for c in checkpoints]
    norms = [c[1] for c in checkpoints]
    assert all(a > b for a, b in zip(values, values[1:]))
    assert all(a < b for a, b in zip(norms, norms[1:]))
    assert values[-1] < 1e-3 and values[-1] < 0.01 * history[0][0]
    # any boundary in the gap separates the groups; this one is not at 2.2
    assert 1 < history[-1][2] < 3
    penalised = _self_label(penalty=1e-3)
    assert history[-1][1] > penalised[-1][1] + 1.0


def _toy_targets():
    groups = (X > 2).long()
    targets = torch.nn.functional.one_hot(groups, 2).to(DT)
    uniform = torch.arange(100) % 3 == 0
    targets[uniform] = 0.5
    return targets, uniform


def _train(loss_fn, targets, mask, steps=200, lr=0.05):
    gen = torch.Generator().manual_seed(1)
    w = torch.randn(2, generator=gen, dtype=DT).requires_grad_(True)
    b = torch.randn(2, generator=gen, dtype=DT).requires_grad_(True)
    optimizer = torch.optim.SGD([w, b], lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        z = _logits(w, b)[mask]
        loss_fn(z, targets[mask], reduction="sum").backward()
        optimizer.step()
    return w.detach(), b.detach()


def test_uniform_targets_leave_the_model_unchanged_under_collision_ce():
    targets, uniform = _toy_targets()
    w = torch.tensor([1.5, -0.5], dtype=DT, requires_grad=True)
    b = torch.tensor([0.3, 0.1], dtype=DT, requires_grad=True)
    z = _logits(w, b)[uniform]
    losses.collision_cross_entropy(z, targets[uniform], reduction="sum").backward()
    assert w.grad.abs().max() < 1e-12 and b.grad.abs().max() < 1e-12
    # training on all points = training on the labelled points only
    all_points = torch.ones(100, dtype=torch.bool)
    w_all, b_all = _train(losses.collision_cross_entropy, targets, all_points)
    w_lab, b_lab = _train(losses.collision_cross_entropy, targets, ~uniform)
    torch.testing.assert_close(w_all, w_lab, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(b_all, b_lab, rtol=1e-10, atol=1e-12)


def test_uniform_targets_pull_predictions_to_uniform_under_shannon_ce():
    targets, uniform = _toy_targets()
    w = torch.tensor([1.5, -0.5], dtype=DT, requires_grad=True)
    b = torch.tensor([0.3, 0.1], dtype=DT, requires_grad=True)
    z = _logits(w, b)[uniform]
    losses.cross_entropy(z, targets[uniform], reduction="sum").backward()
    assert w.grad.abs().max() > 1e-2
    # trained on the uniform-target points alone, Shannon CE flattens σ there;
    # collision CE does not move the model at all
    w_h, b_h = _train(losses.cross_entropy, targets, uniform, steps=300, lr=0.002)
    sigma = torch.softmax(_logits(w_h, b_h)[uniform], dim=1)
    assert (sigma - 0.5).abs().max() < 0.01
    w0, b0 = _train(losses.collision_cross_entropy, targets, uniform, steps=0)
    w_c, b_c = _train(losses.collision_cross_entropy, targets, uniform)
    torch.testing.assert_close(w_c, w0, rtol=0, atol=1e-12)
    torch.testing.assert_close(b_c, b0, rtol=0, atol=1e-12)
    # and with the labelled points too, Shannon CE keeps the labelled
    # predictions less confident than collision CE does
    all_points = torch.ones(100, dtype=torch.bool)
    conf = {}
    for name, fn in (("h", losses.cross_entropy),
                     ("h2", losses.collision_cross_entropy)):
        w_t, b_t = _train(fn, targets, all_points)
        sigma = torch.softmax(_logits(w_t, b_t), dim=1)
        conf[name] = float(sigma.max(dim=1).values[~uniform].mean())
    assert conf["h"] < conf["h2"]
