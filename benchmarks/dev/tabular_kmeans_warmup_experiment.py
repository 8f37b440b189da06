"""Development experiment: warm up on KMeans's partition, then self-label,
on small tabular sets.

For the first ``WARM`` epochs the network is trained with cross-entropy on the
labels of KMeans (``n_init=10``, on the standardised features, seeded from the
run's own generator); the self-labeling objective takes over after that. The
estimator's defaults otherwise (8 restarts kept by the objective). Data:
iris, wine, breast_cancer (standardised), seeds 0-4, one CPU thread; KMeans
alone gets 0.832, 0.966 and 0.907. ``kmeans_init_experiment.py`` tried the same
on digits.

Writes ``benchmarks/results/dev_tabular_kmeans_warmup.json``.

Usage: ``python benchmarks/dev/tabular_kmeans_warmup_experiment.py``
"""

import json
import statistics
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.cluster import KMeans

from skdeepcluster import DeepEntropyClustering, _estimator, losses
from skdeepcluster._training import SelfLabeling, fetch
from skdeepcluster.metrics import clustering_accuracy

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tabular_training_length_experiment import ROOT, tabular_sets  # noqa: E402


def warmed_up(warm):
    """A SelfLabeling whose first ``warm`` epochs fit KMeans's labels."""

    class KMeansWarmUp(SelfLabeling):
        def __init__(self, X, module, *args, **kwargs):
            super().__init__(X, module, *args, **kwargs)
            k = self.head.out_features
            seed = int(torch.randint(2**31 - 1, (1,), generator=self.generator))
            self.km = torch.as_tensor(KMeans(k, n_init=10, random_state=seed)
                                      .fit_predict(np.asarray(X)), dtype=torch.int64)
            self.batches_left = None

        def __call__(self, idx):
            if self.batches_left is None:  # batches per epoch, from the first
                self.batches_left = warm * -(-self.X.shape[0] // len(idx))
            if self.batches_left <= 0:
                return super().__call__(idx)
            self.batches_left -= 1
            logits = self.module(self.scaler(fetch(self.X, idx, self.device))).float()
            target = self.km[idx]
            probs = torch.softmax(logits.detach(), 1)
            return losses.cross_entropy(logits, target), {
                "labels": target, "idx": idx, "prob_sum": probs.sum(0),
                "entropy_sum": losses.entropy(logits.detach(), reduction="sum")}

    return KMeansWarmUp


def main():
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    rows = []
    for name, X, y, k in tabular_sets():
        for warm in (0, 5, 20):
            _estimator.SelfLabeling = warmed_up(warm) if warm else SelfLabeling
            accs = [clustering_accuracy(y, DeepEntropyClustering(
                n_clusters=k, random_state=seed).fit_predict(X)) for seed in range(5)]
            rows.append({"dataset": name, "warm_epochs": warm, "accuracy": accs,
                         "mean": statistics.mean(accs), "std": float(np.std(accs))})
            print(f"{name:14s} warm={warm:2d} {rows[-1]['mean']:.3f} ± "
                  f"{rows[-1]['std']:.3f}", flush=True)
    _estimator.SelfLabeling = SelfLabeling
    out = ROOT / "benchmarks" / "results" / "dev_tabular_kmeans_warmup.json"
    out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
