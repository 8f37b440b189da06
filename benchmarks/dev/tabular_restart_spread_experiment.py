"""Development experiment: how good are single runs on small tabular sets,
and does the self-labeling objective find the good ones?

Fits 40 single runs (``n_init=1``, seeds 0-39, otherwise the defaults) on
iris, wine and breast_cancer (standardised features, one CPU thread) and
records each run's objective and Hungarian accuracy, the Spearman correlation
between them (negative: a lower objective goes with a higher accuracy) and
the accuracies of the ten runs with the lowest objective.

Writes ``benchmarks/results/dev_tabular_restart_spread.json``.

Usage: ``python benchmarks/dev/tabular_restart_spread_experiment.py``
"""

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from skdeepcluster import DeepEntropyClustering
from skdeepcluster.metrics import clustering_accuracy

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tabular_training_length_experiment import ROOT, tabular_sets  # noqa: E402


def main():
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    rows = []
    for name, X, y, k in tabular_sets():
        objectives, accuracies = [], []
        for seed in range(40):
            model = DeepEntropyClustering(n_clusters=k, n_init=1,
                                          random_state=seed).fit(X)
            objectives.append(float(model.objective_))
            accuracies.append(clustering_accuracy(y, model.labels_))
        order = np.argsort(objectives)
        rows.append({
            "dataset": name, "objective": objectives, "accuracy": accuracies,
            "mean": float(np.mean(accuracies)), "max": max(accuracies),
            "min": min(accuracies),
            "spearman_objective_accuracy": float(spearmanr(objectives,
                                                           accuracies)[0]),
            "lowest_objective_ten": [accuracies[i] for i in order[:10]],
        })
        print(f"{name:14s} mean {rows[-1]['mean']:.3f} max {rows[-1]['max']:.3f} "
              f"rho {rows[-1]['spearman_objective_accuracy']:.2f}", flush=True)
    out = ROOT / "benchmarks" / "results" / "dev_tabular_restart_spread.json"
    out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
