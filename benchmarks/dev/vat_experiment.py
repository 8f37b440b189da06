"""Development experiment: VAT consistency on top of the self-labeling recipe.

The script that produced ``benchmarks/results/dev_mnist_cpu.jsonl`` (one
single-thread process per run, two runs at a time on the 2-core machine, on
the code of commits 39e71b6 to 6899422, when ``n_init="auto"`` meant 1 restart on
MNIST).
It wraps the estimator's batch objective with a VAT term (``weight`` > 0); the
library's ``adversarial_weight`` now does the same thing.

Usage: ``python vat_experiment.py DATA KEY=VALUE,... THREADS '{"seeds": [0], ...}'``
with DATA in digits, mnist, fashion-mnist; keys alpha (radius), weight, xi_frac;
the JSON holds seeds and estimator parameters.
"""
import json
import sys
import time

import torch
import torch.nn.functional as F
from sklearn.metrics import normalized_mutual_info_score as nmi

from skdeepcluster import DeepEntropyClustering, _estimator
from skdeepcluster._training import SelfLabeling, fetch
from skdeepcluster.metrics import clustering_accuracy

CFG = dict(alpha=0.25, weight=1.0, xi_frac=0.5, mode="kl")

class VATLabeling(SelfLabeling):
    def __call__(self, idx):
        loss, stats = super().__call__(idx)
        a, w = CFG["alpha"], CFG["weight"]
        if w == 0:
            return loss, stats
        x = self.scaler(fetch(self.X, idx, self.device))
        far = self.scaler(fetch(self.X, self.neighbors[idx, -1], self.device))
        eps = a * (x - far).norm(dim=1, keepdim=True)
        with torch.no_grad():
            logp = F.log_softmax(self.module(x), 1)
        d = torch.randn(x.shape, generator=self.generator).to(x)
        d = d / d.norm(dim=1, keepdim=True).clamp_min(1e-12)
        d.requires_grad_(True)
        logq = F.log_softmax(self.module(x + CFG["xi_frac"] * eps * d), 1)
        kl = (logp.exp() * (logp - logq)).sum(1).sum()
        g, = torch.autograd.grad(kl, d)
        r = eps * g / g.norm(dim=1, keepdim=True).clamp_min(1e-12)
        logq = F.log_softmax(self.module(x + r.detach()), 1)
        if CFG["mode"] == "kl":
            vat = (logp.exp() * (logp - logq)).sum(1).mean()
        else:  # collision CE against the pseudo-label of x
            log_t = torch.log(stats["target"].clamp_min(1e-30))
            vat = -torch.logsumexp(logq + log_t, 1).mean()
        return loss + w * vat, stats

def run(name, X, y, k, seed, **kw):
    _estimator.SelfLabeling = VATLabeling if CFG["weight"] > 0 else SelfLabeling
    t = time.perf_counter()
    m = DeepEntropyClustering(n_clusters=k, random_state=seed, **kw).fit(X)
    acc = clustering_accuracy(y, m.labels_)
    record = dict(name=name, seed=seed, cfg=CFG,
                  kw={k_: str(v) for k_, v in kw.items()}, acc=round(acc, 4),
                  obj=round(m.objective_, 5), nmi=round(nmi(y, m.labels_), 4),
                  epochs=m.n_iter_, time=round(time.perf_counter() - t, 1))
    print(json.dumps(record), flush=True)
    return acc

if __name__ == "__main__":
    torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)
    data = sys.argv[1]
    for kv in sys.argv[2].split(","):
        if kv:
            key, val = kv.split("=")
            CFG[key] = val if key == "mode" else float(val)
    extra = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    seeds = extra.pop("seeds", [0])
    if data == "digits":
        from sklearn.datasets import load_digits
        X, y = load_digits(return_X_y=True)
    else:
        from skdeepcluster.datasets import load_fashion_mnist, load_mnist
        X, y = (load_mnist if data == "mnist" else load_fashion_mnist)(
            "/work/shared/datasets", return_X_y=True)
    for s in seeds:
        run(data, X, y, 10, s, **extra)
