"""Development experiment: restarts screened early, the leader trained long.

On MNIST with ``augment="affine"`` about 6 in 10 restarts end in a mixed
4/9 partition (ACC 0.885-0.895) and the others at 0.969-0.972; the final
objective and, from epoch 15 on, the training loss tell them apart
(``restart_ranking_experiment.py``). This fits
``DeepEntropyClustering(10, augment="affine", n_init=8, screen_epochs=15,
max_iter=100)`` (eight restarts ranked after 15 epochs, the leader trained
to 100: about 205 epochs, the cost of the default four restarts of 50) for
the given benchmark seeds and appends one JSON line per fit to
``benchmarks/results/dev_screening.jsonl``.

Usage: ``python benchmarks/dev/screening_experiment.py mnist 0 1 2``
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from skdeepcluster import DeepEntropyClustering
from skdeepcluster.metrics import clustering_report

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "benchmarks" / "results" / "dev_screening.jsonl"
PARAMS = {"augment": "affine", "n_init": 8, "screen_epochs": 15, "max_iter": 100}


def main():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from run_quality import _commit, load

    dataset, seeds = sys.argv[1], [int(s) for s in sys.argv[2:]]
    X, y, _ = load(dataset, str(ROOT.parent / "shared" / "datasets"))
    for seed in seeds:
        start = time.perf_counter()
        model = DeepEntropyClustering(len(np.unique(y)), random_state=seed, **PARAMS)
        labels = model.fit_predict(X)
        rec = {"dataset": dataset, "seed": seed, "params": PARAMS,
               "fit_seconds": round(time.perf_counter() - start, 1),
               "epochs": model.n_iter_, "objective": model.objective_,
               **clustering_report(y, labels),
               "torch_threads": torch.get_num_threads(), "commit": _commit()}
        with OUT.open("a") as fh:
            fh.write(json.dumps(rec) + "\n")
        print(rec, flush=True)


if __name__ == "__main__":
    main()
