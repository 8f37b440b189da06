"""Soft (uncertain) training targets: collision vs Shannon cross-entropy.

Usage::

    SKDEEPCLUSTER_DATA=/path/to/datasets python benchmarks/bench_soft_labels.py
    python benchmarks/bench_soft_labels.py --quick      # 2 seeds, digits only

A growing fraction (0, 0.2, 0.4, 0.6, 0.8) of the training labels is replaced
by an uncertain target, of one of two kinds:

- ``uniform``: ``y = 1/K`` ("don't know");
- ``mixture``: ``y = 0.5 e_true + 0.5 e_other`` with ``other`` a random wrong
  class (an annotator torn between the right class and a wrong one).

A :class:`~skdeepcluster.SoftLabelClassifier` is trained on the corrupted
targets with ``loss="collision"`` and ``loss="shannon"`` (same seed: same
corruption, initialisation and shuffling) and scored on clean test labels:
accuracy, and the mean predicted probability of the predicted class
("confidence"), which shows whether the network copied the targets'
uncertainty.

Data: ``digits`` (scikit-learn; a fixed stratified 75/25 split) and MNIST
(the first 10,000 training images, the official 10,000 test images).
Budget: the classifier's default MLP (one hidden layer of 256), batch 128,
Adam 3e-3, a fixed number of epochs (30 for digits, 10 for MNIST; no early
stopping), one CPU thread. Results: ``benchmarks/results/soft_labels.json``
and a section of ``docs/classification_results.md``.
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
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skdeepcluster import SoftLabelClassifier
from skdeepcluster.datasets import load_mnist

FRACTIONS = (0.0, 0.2, 0.4, 0.6, 0.8)
KINDS = ("uniform", "mixture")
LOSSES = ("collision", "shannon")
EPOCHS = {"digits": 30, "mnist": 10}
NAMES = {"digits": "digits", "mnist": "MNIST"}


def load(name, data_home):
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        return train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    Xtr, ytr = load_mnist(data_home, subset="train", return_X_y=True)
    Xte, yte = load_mnist(data_home, subset="test", return_X_y=True)
    return Xtr[:10_000], Xte, ytr[:10_000], yte


def corrupt(y, n_classes, fraction, kind, rng):
    """One-hot targets with ``fraction`` of the rows made uncertain."""
    Y = np.eye(n_classes, dtype=np.float32)[y]
    picked = rng.choice(len(y), int(round(fraction * len(y))), replace=False)
    if kind == "uniform":
        Y[picked] = 1.0 / n_classes
    else:
        other = (y[picked] + rng.integers(1, n_classes, len(picked))) % n_classes
        Y[picked] = 0.0
        Y[picked, y[picked]] = 0.5
        Y[picked, other] = 0.5
    return Y


def run(datasets, seeds, data_home):
    records = []
    for name in datasets:
        Xtr, Xte, ytr, yte = load(name, data_home)
        n_classes = len(np.unique(ytr))
        for seed in seeds:
            for kind in KINDS:
                for fraction in FRACTIONS:
                    if fraction == 0 and kind != KINDS[0]:
                        continue  # the clean run is shared by both kinds
                    rng = np.random.default_rng(seed)
                    Y = corrupt(ytr, n_classes, fraction, kind, rng)
                    for loss in LOSSES:
                        start = time.process_time()
                        clf = SoftLabelClassifier(
                            loss=loss, max_iter=EPOCHS[name], n_iter_no_change=0,
                            random_state=seed,
                        ).fit(Xtr, Y)
                        proba = clf.predict_proba(Xte)
                        rec = {
                            "dataset": name, "kind": kind if fraction else "clean",
                            "fraction": fraction, "loss": loss, "seed": seed,
                            "accuracy": float(np.mean(proba.argmax(1) == yte)),
                            "confidence": float(proba.max(1).mean()),
                            "cpu_s": time.process_time() - start,
                        }
                        records.append(rec)
                        print(json.dumps(rec), flush=True)
    return records


def _pick(records, **where):
    out = [r for r in records if all(r[k] == v for k, v in where.items())]
    return sorted(out, key=lambda r: r["seed"])


def table(records, epochs):
    header = ["data", "uncertain targets", "fraction", "acc. collision",
              "acc. Shannon", "Δ acc. (coll. − Sh.)", "conf. collision",
              "conf. Shannon"]
    rows = []
    for name in dict.fromkeys(r["dataset"] for r in records):
        for kind in KINDS:
            for fraction in FRACTIONS:
                k = "clean" if fraction == 0 else kind
                c = _pick(records, dataset=name, kind=k, fraction=fraction,
                          loss="collision")
                s = _pick(records, dataset=name, kind=k, fraction=fraction,
                          loss="shannon")
                acc_c = [r["accuracy"] for r in c]
                acc_s = [r["accuracy"] for r in s]
                rows.append([
                    NAMES[name], kind, f"{fraction:.1f}",
                    mean_std(acc_c), mean_std(acc_s),
                    signed_mean_std(np.subtract(acc_c, acc_s)),
                    mean_std([r["confidence"] for r in c], 2),
                    mean_std([r["confidence"] for r in s], 2),
                ])
    return markdown_table(header, rows)


def verdict(records):
    """Where does collision CE beat Shannon CE on test accuracy (paired)?"""
    lines, n_wins, n_settings = [], 0, 0
    for name in dict.fromkeys(r["dataset"] for r in records):
        for kind in KINDS:
            wins, ties, losses_ = [], [], []
            for fraction in FRACTIONS[1:]:
                d = np.subtract(
                    [r["accuracy"] for r in _pick(records, dataset=name, kind=kind,
                                                  fraction=fraction, loss="collision")],
                    [r["accuracy"] for r in _pick(records, dataset=name, kind=kind,
                                                  fraction=fraction, loss="shannon")],
                )
                # "Clear" when the mean paired difference exceeds twice its
                # standard error.
                se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else np.inf
                bucket = (wins if d.mean() > 2 * se else
                          losses_ if d.mean() < -2 * se else ties)
                bucket.append(f"{fraction:.1f}")
            n_wins += len(wins)
            n_settings += len(FRACTIONS) - 1
            lines.append(
                f"- {NAMES[name]}, {kind}: collision clearly better at fractions "
                f"{', '.join(wins) or 'none'}; clearly worse at "
                f"{', '.join(losses_) or 'none'}; no clear difference at "
                f"{', '.join(ties) or 'none'}."
            )
    holds = ("holds" if n_wins == n_settings else
             "holds in part" if n_wins else "does not hold")
    lines.append(
        f"\nClaim \"collision CE beats Shannon CE on uncertain targets\": {holds} "
        f"here (clearly better in {n_wins} of {n_settings} corrupted settings)."
    )
    return "\n".join(lines)


def report(meta, records):
    """The markdown section for ``docs/classification_results.md``."""
    env = meta["environment"]
    return f"""## Soft targets: collision vs Shannon cross-entropy

`benchmarks/bench_soft_labels.py`. A fraction of the training labels is made
uncertain: *uniform* (`y = 1/K`) or *mixture* (`0.5` on the true class, `0.5`
on a random wrong one); the test labels are clean. digits: fixed stratified
75/25 split (1,347 / 450); MNIST: the first 10,000 training images, the
official 10,000 test images. Budget: `SoftLabelClassifier` defaults (MLP with
one hidden layer of 256, batch 128, Adam 3e-3), {meta['epochs']['digits']}
epochs on digits and {meta['epochs']['mnist']} on MNIST, no early stopping,
1 CPU thread; {meta['fit_cpu_s'] / 60:.1f} CPU minutes for the
{len(records)} fits ({env['processor']}, torch {env['torch']}). "conf." is the
mean predicted probability of the predicted class on the test set.

{table(records, meta['epochs'])}

Paired test (mean difference beyond two standard errors over the seeds):

{verdict(records)}
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true",
                        help="2 seeds on digits only; writes nothing")
    parser.add_argument("--render", action="store_true",
                        help="rewrite the markdown from the saved JSON, no fits")
    args = parser.parse_args()
    path = RESULTS / "soft_labels.json"
    if args.render:
        saved = json.loads(path.read_text())
        update_section("soft-labels", report(saved["meta"], saved["records"]))
        return
    torch.set_num_threads(1)
    datasets = ("digits",) if args.quick else ("digits", "mnist")
    seeds = range(2 if args.quick else args.seeds)
    start = time.time()
    records = run(datasets, seeds, args.data_home)
    if args.quick:
        print(table(records, EPOCHS))
        return
    meta = {"epochs": EPOCHS, "fractions": FRACTIONS, "kinds": KINDS,
            "seeds": list(seeds), "model": "mlp (256,)", "batch_size": 128,
            "learning_rate_init": 3e-3, "fit_cpu_s": sum(r["cpu_s"] for r in records),
            "wall_s": time.time() - start, "environment": environment()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"meta": meta, "records": records}, indent=1) + "\n")
    text = report(meta, records)
    update_section("soft-labels", text)
    print(text)


if __name__ == "__main__":
    main()
