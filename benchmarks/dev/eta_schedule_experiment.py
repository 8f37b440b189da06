"""Development experiment: how fast should EM's over-relaxation grow?

The collision EM loop (``pseudo_labels._em_collision``) multiplies its
over-relaxation order ``η`` by ``_ETA_GROW`` after an accepted step and
divides it by ``_ETA_SHRINK`` after a rejected one. Issue #2's λ = 0.5
targets are missed because EM needs about 7 iterations where projected
gradient needs 4: most optimal rows are vertices, and EM approaches a vertex
geometrically. This counts EM iterations for several schedules on

* the speed benchmark's problems (``bench_ystep.py``: σ = softmax(3·randn),
  N×K in {256×10, 1024×20, 1024×100, 4096×100}, λ in {0.5, 2}): iterations
  to a relative gap of 1e-4 and 1e-6 (gap measured against an optimum solved
  to 1e-12, no stopping test);
* small problems where N is close to K (12×10, 30×10) and flat or sharp
  256×10 problems (4 seeds each): iterations to a certified 1e-4;
* y-problems recorded from MNIST training (the estimator's own batches, see
  ``ystep_tolerance_experiment.py``), solved as in training: certified 1e-3.

Writes ``benchmarks/results/dev_eta_schedule.json``.

Usage: ``python benchmarks/dev/eta_schedule_experiment.py [DATA_HOME]``
"""

import json
import statistics
import sys
from pathlib import Path

import torch

from skdeepcluster import pseudo_labels as pl

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "benchmarks" / "dev"))

import bench_ystep  # noqa: E402
from ystep_tolerance_experiment import record_batches  # noqa: E402

SCHEDULES = [(2.0, 4.0), (3.0, 4.0), (4.0, 4.0), (4.0, 16.0)]  # (grow, shrink)


def _problems():
    cpu = torch.device("cpu")
    bench = [(f"{n}x{k} lam={lam}", bench_ystep._problem(n, k, 0, cpu), lam)
             for n, k in [(256, 10), (1024, 20), (1024, 100), (4096, 100)]
             for lam in (0.5, 2.0)]
    small = []
    for seed in range(4):
        gen = torch.Generator().manual_seed(seed)
        for n, k, scale, lam in [(12, 10, 3, 0.1), (12, 10, 3, 1.0), (30, 10, 1, 1.0),
                                 (256, 10, 6, 1.0), (256, 10, 1, 1.0)]:
            z = scale * torch.randn(n, k, generator=gen, dtype=torch.float64)
            small.append((f"seed {seed} {n}x{k} scale={scale} lam={lam}",
                          torch.softmax(z, 1), lam))
    return bench, small


def _optimum(probs, lam):
    y, _ = pl.solve_pseudo_labels(probs, fairness_weight=lam, tol=1e-12,
                                  max_iter=50_000)
    return float(pl.pseudo_label_objective(y, probs, "collision", lam))


def _iterations_to(probs, lam, f_star, gap, max_iter=3000):
    """First iteration count whose relative gap is <= ``gap`` (None: never)."""
    found = [None]

    class Done(Exception):
        pass

    def callback(it, y):
        value = float(pl.pseudo_label_objective(y, probs, "collision", lam))
        if value / f_star - 1 <= gap:
            found[0] = it + 1
            raise Done

    try:
        bench_ystep._run("em", probs, lam, max_iter, callback)
    except Done:
        pass
    return found[0]


def _certified(probs, lam, tol):
    u = torch.full((probs.shape[1],), 1.0 / probs.shape[1], dtype=probs.dtype)
    return pl._solve(probs, None, "collision", lam, u, "em", 3000, tol)[1]


def main():
    data_home = sys.argv[1] if len(sys.argv) > 1 else str(ROOT.parent / "shared"
                                                          / "datasets")
    torch.set_num_threads(1)
    bench, small = _problems()
    optima = {name: _optimum(p, lam) for name, p, lam in bench}
    mnist = record_batches(data_home)
    saved = pl._ETA_GROW, pl._ETA_SHRINK
    results = []
    try:
        for grow, shrink in SCHEDULES:
            pl._ETA_GROW, pl._ETA_SHRINK = grow, shrink
            row = {"grow": grow, "shrink": shrink, "bench": {}, "small": {}}
            for name, p, lam in bench:
                row["bench"][name] = {
                    "to_1e-4": _iterations_to(p, lam, optima[name], 1e-4),
                    "to_1e-6": _iterations_to(p, lam, optima[name], 1e-6)}
            for name, p, lam in small:
                row["small"][name] = _certified(p, lam, 1e-4)
            counts = [_certified(p, 1.0, 1e-3) for p in mnist]
            row["mnist_certified_1e-3"] = {"mean": statistics.mean(counts),
                                           "max": max(counts), "n": len(counts)}
            row["small_certified_1e-4_total"] = sum(row["small"].values())
            results.append(row)
            print(f"grow {grow} shrink {shrink}: "
                  + ", ".join(f"{k} {v['to_1e-4']}/{v['to_1e-6']}"
                              for k, v in row["bench"].items())
                  + f"; small total {row['small_certified_1e-4_total']}"
                  + f"; MNIST mean {row['mnist_certified_1e-3']['mean']:.2f}"
                  + f" max {row['mnist_certified_1e-3']['max']}", flush=True)
    finally:
        pl._ETA_GROW, pl._ETA_SHRINK = saved
    out = ROOT / "benchmarks" / "results" / "dev_eta_schedule.json"
    out.write_text(json.dumps({"torch": torch.__version__, "schedules": results},
                              indent=2) + "\n")


if __name__ == "__main__":
    main()
