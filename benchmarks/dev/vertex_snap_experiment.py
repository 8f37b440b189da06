"""Development experiment: does snapping rows to vertices speed EM up?

At λ = 0.5 nearly every optimal row of the collision y-problem is a vertex
(one-hot); projected gradient lands on them in one long step while EM
approaches them geometrically, which is why issue #2's λ = 0.5 targets are
missed. This tries an active-set shortcut inside the EM loop: a row whose
current largest entry ``k`` satisfies the KKT conditions *at the vertex*
``e_k`` under the current fairness weights ``w = λu/ȳ``,

    σ_ij / σ_ik + w_j <= 1 + w_k   for every j,

is set to that vertex (other entries at a floor), and the snapped matrix is
kept only if ``F`` decreases. Variants: snap before every EM step (floor
eps², or 1e-6), or once, before the second or third step (floor 1e-8).

On the speed benchmark's problems (``bench_ystep.py``: σ = softmax(3·randn),
λ in {0.5, 2}) it records the iterations each variant needs to reach a
relative gap of 1e-4 and 1e-6 (against an optimum solved to 1e-11) and the
median time of that many iterations, with projected gradient timed in the
same run. Writes ``benchmarks/results/dev_vertex_snap.json``.

Usage: ``python benchmarks/dev/vertex_snap_experiment.py``
"""

import json
import statistics
import sys
import time
from pathlib import Path

import torch

from skdeepcluster import pseudo_labels as pl

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_ystep  # noqa: E402

GAPS = (1e-4, 1e-6)
SIZES = ((256, 10), (1024, 20), (1024, 100), (4096, 100))


def em_snap(sigma, lam, u, max_iter, callback=None, *, snap_at=None,
            snap_floor=None):
    """The CPU collision EM loop of ``pseudo_labels`` (over-relaxed, uniform
    start) with a vertex snap before every step (``snap_at=None``) or before
    step ``snap_at`` only."""
    n, lam_nu, fair_const = pl._collision_constants(sigma, lam, u)
    tiny = torch.finfo(sigma.dtype).tiny
    floor = torch.finfo(sigma.dtype).eps ** 2
    y = sigma / sigma.sum(1, keepdim=True)
    y = y.add_(lam * u)
    y = y.div_(y.sum(1, keepdim=True)).clamp_min_(floor)
    if callback:
        callback(0, y)

    def state(labels):
        dots, col_sums, log_sum, fair_sum = pl._collision_terms(sigma, labels, lam, u)
        return dots, col_sums, -float(log_sum) / n + fair_const - lam * float(fair_sum)

    dots, col_sums, value = state(y)
    eta = 2.0
    for it in range(1, max_iter):
        if snap_at is None or it == snap_at:
            w = lam_nu / col_sums
            k = y.argmax(1, keepdim=True)
            at_vertex = torch.addcdiv(w, sigma, sigma.gather(1, k))
            at_vertex = at_vertex.amax(1, keepdim=True)
            ok = at_vertex <= (1.0 + w[k]) * (1 + 1e-12)
            vertex = torch.full_like(y, snap_floor or floor).scatter_(1, k, 1.0)
            candidate = torch.where(ok, vertex, y)
            new = state(candidate)
            if new[2] <= value:
                y, (dots, col_sums, value) = candidate, new
        g, g_max, _ = pl._collision_weights(sigma, dots, col_sums, lam_nu, tiny)
        candidate = pl._relaxed_step(y, g, g_max, eta, floor)
        new = state(candidate)
        if new[2] <= value:
            y, (dots, col_sums, value) = candidate, new
            eta *= pl._ETA_GROW
        else:
            eta = max(1.0, eta / pl._ETA_SHRINK)
        if callback:
            callback(it, y)
    return y


def first_iterations(solve, probs, lam, f_star, max_iter=300):
    first = {}

    def callback(it, y):
        value = float(pl.pseudo_label_objective(y, probs, "collision", lam))
        gap = (value - f_star) / f_star
        for eps in GAPS:
            if eps not in first and gap <= eps:
                first[eps] = it + 1

    solve(max_iter, callback)
    return first


def median_seconds(fn, repeats=7):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    torch.set_num_threads(1)
    rows = []
    for n, k in SIZES:
        for lam in (0.5, 2.0):
            probs = bench_ystep._problem(n, k, 0, torch.device("cpu"))
            u = bench_ystep._uniform(probs)
            ref, _ = pl.solve_pseudo_labels(probs, fairness_weight=lam, tol=1e-11,
                                            max_iter=20_000)
            f_star = float(pl.pseudo_label_objective(ref, probs, "collision", lam))
            variants = {
                "em (current)":
                    lambda m, cb=None: bench_ystep._run("em", probs, lam, m, cb),
                "pgd": lambda m, cb=None: bench_ystep._run("pgd", probs, lam, m, cb),
                "snap every step, floor eps^2":
                    lambda m, cb=None: em_snap(probs, lam, u, m, cb),
                "snap every step, floor 1e-6":
                    lambda m, cb=None: em_snap(probs, lam, u, m, cb, snap_floor=1e-6),
                "snap before step 2, floor 1e-8":
                    lambda m, cb=None: em_snap(probs, lam, u, m, cb, snap_at=2,
                                               snap_floor=1e-8),
                "snap before step 3, floor 1e-8":
                    lambda m, cb=None: em_snap(probs, lam, u, m, cb, snap_at=3,
                                               snap_floor=1e-8),
            }
            row = {"N": n, "K": k, "lambda": lam, "variants": {}}
            for name, solve in variants.items():
                first = first_iterations(solve, probs, lam, f_star)
                row["variants"][name] = {
                    f"{eps:.0e}": {"iters": first.get(eps),
                                   "seconds": (median_seconds(lambda: solve(first[eps]))
                                               if eps in first else None)}
                    for eps in GAPS}
            pgd = row["variants"]["pgd"]
            for name, result in row["variants"].items():
                for key, cell in result.items():
                    both = cell["seconds"] and pgd[key]["seconds"]
                    cell["speedup_over_pgd"] = (pgd[key]["seconds"] / cell["seconds"]
                                                if both else None)
            rows.append(row)
            print(json.dumps({"N": n, "K": k, "lambda": lam, **{
                name: [(c["iters"], round(c["speedup_over_pgd"] or 0, 1))
                       for c in result.values()]
                for name, result in row["variants"].items()}}), flush=True)
    out = ROOT / "benchmarks" / "results" / "dev_vertex_snap.json"
    out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
