"""Development experiment: warm up on a KMeans partition, then self-label.

For the first WARM epochs the network is trained with cross-entropy on the
labels of KMeans (n_init=10) in the PCA-50 embedding the neighbour search uses;
self-labeling takes over after that. Produced
``benchmarks/results/dev_digits_kmeans_init.jsonl``.

Usage: ``python kmeans_init_experiment.py digits 5 hard '[0,1,2,3,4]' [N_INIT]``
"""

import json
import sys
import time

import numpy as np
import torch
from sklearn.cluster import KMeans

from skdeepcluster import DeepEntropyClustering, _estimator, losses
from skdeepcluster._neighbors import _Projection
from skdeepcluster._training import SelfLabeling, fetch
from skdeepcluster.metrics import clustering_accuracy

WARM = int(sys.argv[2])
MODE = sys.argv[3]  # "hard" or "mix"

class KMInit(SelfLabeling):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        n = self.X.shape[0]
        proj = _Projection(self.X, self.scaler, 50, self.generator)
        Z = torch.empty((n, proj.width))
        proj.embed(self.X, np.arange(n), Z, torch.empty(n))
        Z = Z.numpy()
        seed = int(torch.randint(2**31 - 1, (1,), generator=self.generator))
        km = KMeans(10, n_init=10, random_state=seed).fit_predict(Z)
        self.km = torch.as_tensor(km)
        self.calls, self.per_epoch = 0, max(1, n // 256)

    def __call__(self, idx):
        self.calls += 1
        if self.calls > WARM * self.per_epoch:
            return super().__call__(idx)
        x = self.scaler(fetch(self.X, idx, self.device))
        logits = self.module(x).float()
        t = self.km[idx]
        loss = losses.cross_entropy(logits, t)
        probs = torch.softmax(logits.detach(), 1)
        return loss, {"labels": t, "idx": idx, "prob_sum": probs.sum(0),
                      "entropy_sum": losses.entropy(logits.detach(), reduction="sum")}

_estimator.SelfLabeling = KMInit
if sys.argv[1] == "digits":
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
else:
    from skdeepcluster.datasets import load_mnist
    X, y = load_mnist("/work/shared/datasets", return_X_y=True)
seeds = json.loads(sys.argv[4])
n_init = int(sys.argv[5]) if len(sys.argv) > 5 else 1
for s in seeds:
    t = time.perf_counter()
    m = DeepEntropyClustering(10, n_init=n_init, random_state=s).fit(X)
    record = dict(data=sys.argv[1], warm=WARM, seed=s, n_init=n_init,
                  acc=round(clustering_accuracy(y, m.labels_), 4),
                  obj=round(m.objective_, 5), t=round(time.perf_counter() - t, 1))
    print(json.dumps(record), flush=True)
