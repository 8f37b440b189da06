"""Development experiment: does the default lose to KMeans on small tabular
sets because it trains too little?

On iris (150 rows) one epoch is one mini-batch of 256, so the default 50
epochs are 50 optimiser steps (digits get 350, MNIST 13,650). This fits the
default and three longer or finer-grained schedules (more epochs, smaller
batches) on iris, wine and breast_cancer (standardised features, 5 seeds,
one CPU thread) and records the Hungarian accuracy.

Writes ``benchmarks/results/dev_tabular_training_length.json``.

Usage: ``python benchmarks/dev/tabular_training_length_experiment.py``
"""

import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_iris, load_wine
from sklearn.preprocessing import StandardScaler

from skdeepcluster import DeepEntropyClustering
from skdeepcluster.metrics import clustering_accuracy

ROOT = Path(__file__).resolve().parents[2]
VARIANTS = {
    "default": {},
    "max_iter=400": {"max_iter": 400},
    "batch_size=32": {"batch_size": 32},
    "batch_size=64, max_iter=200": {"batch_size": 64, "max_iter": 200},
}
DATA = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer}


def tabular_sets():
    """Yield (name, standardised features, labels, number of classes) of each
    data set in ``DATA``."""
    for name, loader in DATA.items():
        data = loader()
        yield (name, StandardScaler().fit_transform(data.data), data.target,
               len(np.unique(data.target)))


def fit_variants(variants, out_name):
    """Fit each variant (estimator parameters) on every data set of ``DATA``
    for seeds 0-4 (standardised features, one thread) and write the rows to
    ``benchmarks/results/<out_name>``."""
    torch.set_num_threads(1)
    rows = []
    for name, X, y, k in tabular_sets():
        for variant, params in variants.items():
            accs, seconds = [], []
            for seed in range(5):
                start = time.perf_counter()
                labels = DeepEntropyClustering(n_clusters=k, random_state=seed,
                                               **params).fit_predict(X)
                seconds.append(time.perf_counter() - start)
                accs.append(clustering_accuracy(y, labels))
            rows.append({"dataset": name, "variant": variant, "accuracy": accs,
                         "mean": statistics.mean(accs),
                         "std": float(np.std(accs)),
                         "median_seconds": statistics.median(seconds)})
            print(f"{name:14s} {variant:28s} {rows[-1]['mean']:.3f} ± "
                  f"{rows[-1]['std']:.3f}", flush=True)
    out = ROOT / "benchmarks" / "results" / out_name
    out.write_text(json.dumps(rows, indent=1) + "\n")


def main():
    fit_variants(VARIANTS, "dev_tabular_training_length.json")


if __name__ == "__main__":
    main()
