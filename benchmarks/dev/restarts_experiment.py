"""Development experiment: do restarts chosen by the objective pick good runs?

Fits ``DeepEntropyClustering(10, n_init=1, random_state=s)`` on digits for
s = 0..15 (one CPU thread) and writes ``(seed, ACC, objective_)`` triples to
``benchmarks/results/dev_digits_restarts.json``. Resampling subsets of these
runs gives the expected accuracy of keeping the lowest objective of k restarts.
"""

import json
import random
import statistics
from pathlib import Path

from sklearn.datasets import load_digits

from skdeepcluster import DeepEntropyClustering
from skdeepcluster.metrics import clustering_accuracy

OUT = Path(__file__).resolve().parents[1] / "results" / "dev_digits_restarts.json"

if __name__ == "__main__":
    X, y = load_digits(return_X_y=True)
    runs = []
    for seed in range(16):
        model = DeepEntropyClustering(10, n_init=1, random_state=seed).fit(X)
        runs.append((seed, round(clustering_accuracy(y, model.labels_), 4),
                     round(model.objective_, 5)))
        print(runs[-1], flush=True)
    OUT.write_text(json.dumps(runs))
    rng = random.Random(0)
    for k in (1, 2, 4, 8):
        picks = [min(rng.sample(runs, k), key=lambda r: r[2])[1] for _ in range(20000)]
        print(f"best of {k} by objective: ACC {statistics.mean(picks):.3f} "
              f"± {statistics.pstdev(picks):.3f}")
