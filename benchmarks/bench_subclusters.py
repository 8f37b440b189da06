"""Subclusters merged on the neighbour graph: a measurement for clusters of
unequal sizes.

For each set of the development suite (``run_suite.load``) and seed, two fits
of DeepEntropyClustering with its defaults: one into the set's K clusters,
and one into 2K *subclusters*, whose clusters are then joined into K groups
by agglomerative clustering of the subclusters on the 10-nearest-neighbour
graph of X (in its top 50 principal directions when it has more features).
Two subclusters a and b are as similar as the share of graph edges joining
them, ``W_ab / max(vol_a, vol_b)``; single linkage and complete linkage are
both recorded. A merged fit's probability of a cluster is the sum of its
subclusters' probabilities. Each fit is one JSON record in ``--out``; the
table (``--report``) sets them beside the suite's KMeans, GMM and UMAP+GMM
records of the same sets.

Examples
--------
python benchmarks/bench_subclusters.py --datasets digits-lt10,mnist-lt10
python benchmarks/bench_subclusters.py --report-only
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from _tables import commit
from run_suite import RESULTS, load
from sklearn.cluster import AgglomerativeClustering
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

from skdeepcluster import DeepEntropyClustering
from skdeepcluster.metrics import clustering_report

ROOT = Path(__file__).resolve().parent.parent
OUT = RESULTS / "subclusters.jsonl"
REPORT = RESULTS / "subclusters.md"
LINKAGES = ("single", "complete")
BASELINES = ("kmeans", "gmm", "umap+gmm")


def neighbor_lists(X, n_neighbors=10):
    Z = PCA(50, random_state=0).fit_transform(X) if X.shape[1] > 50 else X
    search = NearestNeighbors(n_neighbors=n_neighbors + 1).fit(Z)
    return search.kneighbors(Z, return_distance=False)[:, 1:]


def merge_map(labels, neighbors, n_sub, n_clusters, linkage):
    """Subcluster -> cluster, by ``linkage`` on ``W_ab / max(vol_a, vol_b)``."""
    W = np.zeros((n_sub, n_sub))
    np.add.at(W, (np.repeat(labels, neighbors.shape[1]), labels[neighbors.ravel()]), 1)
    W = W + W.T
    volume = W.sum(1)
    share = W / np.maximum.outer(volume, volume).clip(1e-12)
    off = ~np.eye(n_sub, dtype=bool)
    distance = (1 - share / max(share[off].max(), 1e-12)).clip(0)
    np.fill_diagonal(distance, 0)
    return AgglomerativeClustering(n_clusters, metric="precomputed",
                                   linkage=linkage).fit_predict(distance)


def run(args):
    measured_at = commit() or "not recorded"
    for name in args.datasets.split(","):
        X, y, _ = load(name, args.data_home)
        X = np.asarray(X, dtype=np.float32)
        k = len(np.unique(y))
        neighbors = neighbor_lists(X)
        for seed in range(args.seeds):
            fits = {}
            for method, n_out in (("deep", k), ("deep-sub2", 2 * k)):
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    proba = DeepEntropyClustering(n_out, random_state=seed,
                                                  device="cpu").fit(X).predict_proba(X)
                fits[method] = (proba, time.perf_counter() - start)
            results = {"deep": fits["deep"][0].argmax(1)}
            proba, _ = fits["deep-sub2"]
            for linkage in LINKAGES:
                groups = merge_map(proba.argmax(1), neighbors, 2 * k, k, linkage)
                merged = np.zeros((2 * k, k))
                merged[np.arange(2 * k), groups] = 1
                results[f"deep-sub2-{linkage}"] = (proba @ merged).argmax(1)
            for method, labels in results.items():
                seconds = fits["deep" if method == "deep" else "deep-sub2"][1]
                record = {"dataset": name, "n_samples": len(X), "n_clusters": k,
                          "method": method, "seed": seed,
                          **clustering_report(y, labels), "fit_seconds": seconds,
                          "commit": measured_at}
                print(json.dumps(record), flush=True)
                with Path(args.out).open("a") as file:
                    file.write(json.dumps(record) + "\n")


def report():
    records = [json.loads(line) for line in OUT.read_text().splitlines()]
    suite = []
    for path in sorted(RESULTS.glob("suite*.jsonl")):
        suite += [json.loads(line) for line in path.read_text().splitlines()]
    # one record per (set, method, seed): the last one read
    suite = list({(r["dataset"], r["method"], r["seed"]): r for r in suite
                  if r["method"] in BASELINES and not r.get("label")}.values())
    datasets = list(dict.fromkeys(r["dataset"] for r in records))
    ours = list(dict.fromkeys(r["method"] for r in records))
    methods = [*BASELINES, *ours]

    def cell(d, m):
        rs = [r for r in (suite if m in BASELINES else records)
              if r["dataset"] == d and r["method"] == m]
        if not rs:
            return None
        return (np.mean([r["accuracy"] for r in rs]),
                np.median([r["fit_seconds"] for r in rs]), len(rs))

    lines = [
        "# Subclusters merged on the neighbour graph", "",
        "Generated by `benchmarks/bench_subclusters.py` from `subclusters.jsonl` "
        "(do not edit by hand). Hungarian accuracy, mean over seeds (`n`), median "
        "fit time in seconds, one CPU thread per fit. `deep`: the default fit "
        "into K clusters; `deep-sub2-single` and `deep-sub2-complete`: the default "
        "fit into 2K subclusters, merged into K by single or complete linkage "
        "on the 10-nearest-neighbour graph (the merge takes milliseconds). "
        "KMeans, GMM and UMAP+GMM are the development suite's records "
        "(`run_suite.py`) of the same sets.", "",
        "| data | rows | K | " + " | ".join(methods) + " |",
        "| --- | --- | --- | " + " | ".join("---" for _ in methods) + " |",
    ]
    for d in datasets:
        r0 = next(r for r in records if r["dataset"] == d)
        row = [d, f"{r0['n_samples']:,}", str(r0["n_clusters"])]
        for m in methods:
            c = cell(d, m)
            row.append("" if c is None else f"{c[0]:.3f} ({c[1]:.0f} s, n={c[2]})")
        lines.append("| " + " | ".join(row) + " |")
    commits = ", ".join(sorted({r["commit"] for r in records}))
    lines += ["", f"Measured at commits: {commits}."]
    REPORT.write_text("\n".join(lines) + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", default="digits-lt10,mnist-lt10,fashion-lt10")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--data-home", default=str(ROOT.parent / "shared" / "datasets"))
    p.add_argument("--out", default=str(OUT))
    p.add_argument("--report-only", action="store_true")
    args = p.parse_args()
    if not args.report_only:
        run(args)
    report()


if __name__ == "__main__":
    main()
