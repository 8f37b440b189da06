"""Development experiment: how exactly must the mini-batch y-step be solved?

Records the predictions each mini-batch hands to the y-step while the default
estimator trains on the first 20,000 MNIST images (6 epochs, seed 0; every 5th
batch is kept), then solves those y-problems with EM at several certified
tolerances and compares each solution with the optimum (EM to 1e-10 in
float64): EM iterations, the actual relative gap, the mean L1 distance of the
rows and how often the argmax agrees; also the time per call (1 thread; on a
shared machine, compare the tolerances with each other only).

Chose ``_training.YSTEP_TOL``. Writes
``benchmarks/results/dev_ystep_tolerance.json``.

Usage: ``python benchmarks/dev/ystep_tolerance_experiment.py [DATA_HOME]``
"""

import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

from skdeepcluster import DeepEntropyClustering, _training
from skdeepcluster import pseudo_labels as pl
from skdeepcluster.datasets import load_mnist

ROOT = Path(__file__).resolve().parents[2]
TOLS = (1e-4, 3e-4, 1e-3, 1e-2)


def record_batches(data_home):
    X, _ = load_mnist(data_home, return_X_y=True)
    saved, original = [], _training.SelfLabeling._pseudo_labels

    def keep(self, probs, **kwargs):
        if not kwargs:  # a mini-batch, not the final objective
            saved.append(probs.clone())
        return original(self, probs, **kwargs)

    _training.SelfLabeling._pseudo_labels = keep
    try:
        DeepEntropyClustering(n_clusters=10, n_init=1, max_iter=6, n_iter_no_change=0,
                              random_state=0).fit(X[:20_000])
    finally:
        _training.SelfLabeling._pseudo_labels = original
    return saved[::5]


def main():
    data_home = sys.argv[1] if len(sys.argv) > 1 else str(ROOT.parent / "shared"
                                                          / "datasets")
    torch.set_num_threads(1)
    batches = record_batches(data_home)
    u = torch.full((batches[0].shape[1],), 1.0 / batches[0].shape[1])
    lam = 1.0  # the estimator's default fairness_weight
    exact = []
    for p in batches:
        y, _ = pl._solve(p.double(), None, "collision", lam, u.double(), "em",
                         5000, 1e-10)
        f = float(pl.pseudo_label_objective(y, p.double(), fairness_weight=lam))
        exact.append((y, f))
    rows = []
    for tol in TOLS:
        iters, gaps, l1, agree, times = [], [], [], [], []
        for p, (y_star, f_star) in zip(batches, exact):
            start = time.perf_counter()
            y, n = pl._solve(p, None, "collision", lam, u, "em", pl.MAX_ITER, tol)
            times.append(time.perf_counter() - start)
            f = float(pl.pseudo_label_objective(y.double(), p.double(),
                                                fairness_weight=lam))
            iters.append(n)
            gaps.append((f - f_star) / f_star)
            l1.append(float((y.double() - y_star).abs().sum(1).mean()))
            agree.append(float((y.argmax(1) == y_star.argmax(1)).double().mean()))
        rows.append({"tol": tol, "mean_iters": statistics.mean(iters),
                     "median_iters": statistics.median(iters), "max_iters": max(iters),
                     "median_gap": statistics.median(gaps), "max_gap": max(gaps),
                     "mean_l1_to_optimum": statistics.mean(l1),
                     "argmax_agreement": statistics.mean(agree),
                     "median_ms_per_call": 1e3 * statistics.median(times)})
        print(rows[-1], flush=True)
    out = ROOT / "benchmarks" / "results" / "dev_ystep_tolerance.json"
    out.write_text(json.dumps({"batches": len(batches),
                               "batch_shape": list(batches[0].shape),
                               "fairness_weight": lam,
                               "load_average_1min": os.getloadavg()[0],
                               "rows": rows}, indent=1))
    print("wrote", out)


if __name__ == "__main__":
    main()
