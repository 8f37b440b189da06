"""Seed luck on the 2-D toy panel: DeepEntropyClustering against KMeans, ARI.

For each problem of :func:`skdeepcluster.datasets.make_toy_datasets` (500
points, data seed 0) the default ``DeepEntropyClustering`` and
``KMeans(n_init=10)`` are fitted with ``random_state`` 0 to 9; the table
gives each one's mean and smallest adjusted Rand index and the number of
seeds on which the deep model falls below KMeans. Results go to
``benchmarks/results/toy_seeds.json`` and ``toy_seeds.md``.

Usage::

    python benchmarks/bench_toy_seeds.py
    python benchmarks/bench_toy_seeds.py --set batch_size=64 --out /tmp/x
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from _tables import parse_overrides
from sklearn.metrics import adjusted_rand_score

import skdeepcluster
from skdeepcluster import DeepEntropyClustering
from skdeepcluster.baselines import make_baseline
from skdeepcluster.datasets import make_toy_datasets

RESULTS = Path(__file__).resolve().parent / "results"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--set", action="append", default=[],
                   help="a DeepEntropyClustering parameter, e.g. batch_size=64")
    p.add_argument("--out", default=str(RESULTS / "toy_seeds"))
    args = p.parse_args()
    overrides = parse_overrides(args.set)
    rows = []
    for name, (X, y) in make_toy_datasets(500, random_state=0).items():
        k = len(np.unique(y))
        kmeans, deep, seconds = [], [], []
        for seed in range(args.seeds):
            kmeans.append(adjusted_rand_score(
                y, make_baseline("kmeans", k, random_state=seed).fit_predict(X)))
            start = time.perf_counter()
            model = DeepEntropyClustering(k, random_state=seed, device="cpu",
                                          **overrides)
            deep.append(adjusted_rand_score(y, model.fit_predict(X)))
            seconds.append(time.perf_counter() - start)
        row = {"dataset": name, "kmeans_ari": kmeans, "deep_ari": deep,
               "below_kmeans": int(sum(d < m - 1e-9 for d, m in zip(deep, kmeans))),
               "median_fit_seconds": float(np.median(seconds))}
        print(json.dumps(row), flush=True)
        rows.append(row)
    meta = {"skdeepcluster": skdeepcluster.__version__, "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "overrides": repr(overrides)}
    out = Path(args.out)
    out.with_suffix(".json").write_text(
        json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    lines = ["# Seed luck on the 2-D toy panel", "",
             f"ARI over random_state 0-{args.seeds - 1}; "
             f"`python benchmarks/bench_toy_seeds.py`; {meta}.", "",
             "| data | KMeans mean (min) | DeepEntropyClustering mean (min) | "
             "seeds below KMeans | deep fit, s |",
             "| --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {np.mean(r['kmeans_ari']):.3f} "
            f"({min(r['kmeans_ari']):.3f}) | {np.mean(r['deep_ari']):.3f} "
            f"({min(r['deep_ari']):.3f}) | {r['below_kmeans']} of {args.seeds} | "
            f"{r['median_fit_seconds']:.1f} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
