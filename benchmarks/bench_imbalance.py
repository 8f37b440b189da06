"""Long-tailed training sets: cross-entropy vs complement CE vs focal loss.

Usage::

    SKDEEPCLUSTER_DATA=/path/to/datasets python benchmarks/bench_imbalance.py
    python benchmarks/bench_imbalance.py --quick      # 2 seeds, MNIST, ratio 100

Training sets are drawn from the official MNIST and Fashion-MNIST training
images with an exponential profile ``n_c = floor(n_max · ρ^(-c/(K-1)))`` for
class ``c = 0, ..., K-1`` (``n_max = 5000``; imbalance ratios ρ = 10 and 100;
a seed draws which images). The test sets are the official 10,000 test images
(about 1,000 per class), so accuracy and balanced accuracy nearly coincide;
"tail recall" is the mean recall of the three rarest classes (7, 8, 9).

Losses, all with the same seed (same subset, initialisation and shuffling):
cross-entropy (``loss="shannon"``), complement cross-entropy
(``loss="complement"``, γ = -1) and focal loss (``loss="focal"``, γ = 2).
Budget: the classifier's default MLP (one hidden layer of 256), batch 128,
Adam 3e-3, 10 epochs (no early stopping), one CPU thread. Results:
``benchmarks/results/imbalance.json`` and a section of
``docs/classification_results.md``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from _tables import (
    RESULTS,
    environment,
    markdown_table,
    mean_std,
    signed_mean_std,
    update_section,
)
from sklearn.metrics import balanced_accuracy_score, recall_score

from skdeepcluster import SoftLabelClassifier
from skdeepcluster.datasets import load_fashion_mnist, load_mnist

RATIOS = (10, 100)
N_MAX = 5000
EPOCHS = 10
LOSSES = {"shannon": "CE", "complement": "complement CE", "focal": "focal"}
LOADERS = {"MNIST": load_mnist, "Fashion-MNIST": load_fashion_mnist}
TAIL = (7, 8, 9)


def class_counts(n_classes, ratio, n_max=N_MAX):
    return [int(n_max * ratio ** (-c / (n_classes - 1))) for c in range(n_classes)]


def long_tailed(y, ratio, rng):
    counts = class_counts(len(np.unique(y)), ratio)
    picked = [rng.choice(np.flatnonzero(y == c), n, replace=False)
              for c, n in enumerate(counts)]
    return np.sort(np.concatenate(picked))


def run(datasets, ratios, seeds, data_home):
    records = []
    for name in datasets:
        X, y = LOADERS[name](data_home, subset="train", return_X_y=True)
        Xte, yte = LOADERS[name](data_home, subset="test", return_X_y=True)
        for ratio in ratios:
            for seed in seeds:
                idx = long_tailed(y, ratio, np.random.default_rng(seed))
                for loss in LOSSES:
                    start = time.process_time()
                    clf = SoftLabelClassifier(
                        loss=loss, max_iter=EPOCHS, n_iter_no_change=0,
                        random_state=seed,
                    ).fit(X[idx], y[idx])
                    pred = clf.predict(Xte)
                    recall = recall_score(yte, pred, average=None)
                    rec = {
                        "dataset": name, "ratio": ratio, "loss": loss,
                        "seed": seed, "n_train": len(idx),
                        "accuracy": float(np.mean(pred == yte)),
                        "balanced_accuracy": float(balanced_accuracy_score(yte, pred)),
                        "tail_recall": float(recall[list(TAIL)].mean()),
                        "recall": recall.tolist(),
                        "cpu_s": time.process_time() - start,
                    }
                    records.append(rec)
                    print(json.dumps({k: v for k, v in rec.items() if k != "recall"}),
                          flush=True)
    return records


def _values(records, key, **where):
    out = [r for r in records if all(r[k] == v for k, v in where.items())]
    return np.array([r[key] for r in sorted(out, key=lambda r: r["seed"])])


def tables(records):
    text = []
    for key, title in (("accuracy", "Test accuracy"),
                       ("balanced_accuracy", "Test balanced accuracy"),
                       ("tail_recall", "Tail recall (classes 7, 8, 9)")):
        header = ["data", "ρ", "n train", *LOSSES.values(),
                  "Δ complement − CE", "Δ focal − CE"]
        rows = []
        for name in dict.fromkeys(r["dataset"] for r in records):
            for ratio in dict.fromkeys(r["ratio"] for r in records):
                v = {loss: _values(records, key, dataset=name, ratio=ratio, loss=loss)
                     for loss in LOSSES}
                n = _values(records, "n_train", dataset=name, ratio=ratio,
                            loss="shannon")
                rows.append([name, ratio, int(n[0]),
                             *(mean_std(v[loss]) for loss in LOSSES),
                             signed_mean_std(v["complement"] - v["shannon"]),
                             signed_mean_std(v["focal"] - v["shannon"])])
        text.append(f"**{title}**\n\n{markdown_table(header, rows)}")
    return "\n\n".join(text)


def verdict(records):
    """Does complement CE (or focal) beat CE on balanced accuracy (paired)?"""
    lines, better = [], {"complement": 0, "focal": 0}
    for name in dict.fromkeys(r["dataset"] for r in records):
        for ratio in dict.fromkeys(r["ratio"] for r in records):
            ce = _values(records, "balanced_accuracy", dataset=name, ratio=ratio,
                         loss="shannon")
            parts = []
            for loss in ("complement", "focal"):
                d = _values(records, "balanced_accuracy", dataset=name,
                            ratio=ratio, loss=loss) - ce
                se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else np.inf
                word = ("better than" if d.mean() > 2 * se else
                        "worse than" if d.mean() < -2 * se else
                        "not distinguishable from")
                parts.append(f"{LOSSES[loss]} {word} CE ({d.mean():+.3f})")
                better[loss] += d.mean() > 2 * se
            lines.append(f"- {name}, ρ = {ratio}: " + "; ".join(parts) + ".")
    n = len(lines)
    for loss in ("complement", "focal"):
        holds = ("holds" if better[loss] == n else
                 "holds in part" if better[loss] else "does not hold")
        lines.append(
            f"\nClaim \"{LOSSES[loss]} beats CE on imbalanced training sets\": "
            f"{holds} here (clearly better in {better[loss]} of {n} settings)."
        )
    return "\n".join(lines)


def report(meta, records):
    """The markdown section for ``docs/classification_results.md``."""
    env = meta["environment"]
    counts = "; ".join(f"ρ = {r}: {c}" for r, c in meta["class_counts"].items())
    return f"""## Imbalanced training sets: CE vs complement CE vs focal loss

`benchmarks/bench_imbalance.py`. Long-tailed training sets drawn from the
official training images, `n_c = floor({meta['n_max']} · ρ^(-c/9))` images of
class `c` ({counts}); balanced test sets (the official 10,000 test images).
Complement CE with γ = -1, focal loss with γ = 2. Budget: `SoftLabelClassifier`
defaults (MLP with one hidden layer of 256, batch 128, Adam 3e-3),
{meta['epochs']} epochs, no early stopping, no re-weighting or re-sampling,
1 CPU thread; {meta['fit_cpu_s'] / 60:.1f} CPU minutes for the {len(records)}
fits ({env['processor']}, torch {env['torch']}).

{tables(records)}

Paired test on balanced accuracy (mean difference beyond two standard errors
over the seeds):

{verdict(records)}
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true",
                        help="2 seeds, MNIST, ratio 100; writes nothing")
    parser.add_argument("--render", action="store_true",
                        help="rewrite the markdown from the saved JSON, no fits")
    args = parser.parse_args()
    path = RESULTS / "imbalance.json"
    if args.render:
        saved = json.loads(path.read_text())
        update_section("imbalance", report(saved["meta"], saved["records"]))
        return
    torch.set_num_threads(1)
    datasets = ("MNIST",) if args.quick else tuple(LOADERS)
    ratios = (100,) if args.quick else RATIOS
    seeds = range(2 if args.quick else args.seeds)
    start = time.time()
    records = run(datasets, ratios, seeds, args.data_home)
    if args.quick:
        print(tables(records))
        print(verdict(records))
        return
    meta = {"ratios": RATIOS, "n_max": N_MAX, "epochs": EPOCHS,
            "class_counts": {r: class_counts(10, r) for r in RATIOS},
            "seeds": list(seeds), "model": "mlp (256,)", "batch_size": 128,
            "learning_rate_init": 3e-3, "gamma": {"complement": -1.0, "focal": 2.0},
            "fit_cpu_s": sum(r["cpu_s"] for r in records),
            "wall_s": time.time() - start, "environment": environment()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"meta": meta, "records": records}, indent=1) + "\n")
    text = report(meta, records)
    update_section("imbalance", text)
    print(text)


if __name__ == "__main__":
    main()
