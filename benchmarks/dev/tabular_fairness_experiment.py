"""Development experiment: fairness_weight on imbalanced tabular data.

Fits DeepEntropyClustering (defaults except ``fairness_weight``) on the
standardised breast_cancer, wine and iris sets for seeds 0-4 and writes mean
ACC per weight to ``benchmarks/results/dev_tabular_fairness.json``.
"""

import json
from pathlib import Path

import numpy as np
from sklearn import datasets
from sklearn.preprocessing import StandardScaler

from skdeepcluster import DeepEntropyClustering
from skdeepcluster.metrics import clustering_accuracy

OUT = Path(__file__).resolve().parents[1] / "results" / "dev_tabular_fairness.json"

if __name__ == "__main__":
    results = {}
    for name in ("breast_cancer", "wine", "iris"):
        X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
        X = StandardScaler().fit_transform(X)
        k = len(np.unique(y))
        for weight in (0.1, 0.3, 1.0):
            accs = [clustering_accuracy(y, DeepEntropyClustering(
                k, fairness_weight=weight, random_state=s).fit_predict(X))
                for s in range(5)]
            results[f"{name} fairness_weight={weight}"] = [round(a, 4) for a in accs]
            print(name, weight, round(float(np.mean(accs)), 3), flush=True)
    OUT.write_text(json.dumps(results, indent=1))
