"""Development suite: the data sets every default is decided on.

Each data set is a variant of digits, MNIST or Fashion-MNIST that changes
what matters (size, resolution, number of classes), a bundled scikit-learn
tabular set (standardised) or a 2-D toy problem. Every method runs on every
set for each seed; each fit is one JSON record appended to ``--out`` (with
the commit it was measured at), and the table ``docs/suite.md`` is made
anew from all records. The table shows KMeans and GaussianMixture (the
floor), UMAP+GMM (the bar) and UMAP+KMeans (both need umap-learn, the
``benchmarks`` extra) and DeepEntropyClustering, with Hungarian accuracy and
the median fit time.

Examples
--------
python benchmarks/run_suite.py                      # the cheap sets, 3 seeds
python benchmarks/run_suite.py --datasets mnist-10k,fashion-10k --seeds 1
python benchmarks/run_suite.py --datasets mnist --seeds 1 --first-seed 2
python benchmarks/run_suite.py --methods deep --set batch_size=64 --label b64
python benchmarks/run_suite.py --datasets unequal   # clusters of unequal sizes
python benchmarks/run_suite.py --datasets few       # few rows per class
python benchmarks/run_suite.py --report-only
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

import numpy as np
import torch
from _tables import commit, markdown_table, parse_overrides
from sklearn import datasets as skdata
from sklearn.preprocessing import StandardScaler

from skdeepcluster import DeepEntropyClustering
from skdeepcluster.baselines import make_baseline
from skdeepcluster.datasets import load_fashion_mnist, load_mnist, make_toy_datasets
from skdeepcluster.metrics import clustering_report

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
REPORT = ROOT / "docs" / "suite.md"

IMAGES = ["digits", "mnist-2k", "fashion-2k", "mnist-14px-2k", "fashion-14px-2k",
          "mnist+fashion-4k", "mnist-10k", "fashion-10k", "mnist-30k", "fashion-30k",
          "mnist", "fashion-mnist"]
TABULAR = ["iris", "wine", "breast_cancer"]
TOY = ["moons", "circles", "blobs", "anisotropic", "varied"]
#: Clusters of unequal sizes: long-tailed subsets (class c keeps a share
#: ratio^(-c/(K-1)) of the largest class; ratios 10 and 50) and blobs with
#: small groups.
UNEQUAL = ["digits-lt10", "mnist-lt10", "fashion-lt10", "mnist-lt50",
           "fashion-lt50", "blobs-10to1", "blobs-outliers"]
#: Few rows per class: ``<set>-<n>pc`` keeps ``n`` rows of each class of a
#: suite set (150 to 2,000 rows; 20 classes in the sets of MNIST and
#: Fashion-MNIST together, 40 when their quarter turns are classes too).
FEW = ["digits-15pc", "mnist-2k-20pc", "fashion-14px-2k-20pc",
       "mnist+fashion-4k-15pc", "fashion-2k-20pc", "mnist-14px-2k-20pc",
       "digits-30pc", "digits-50pc", "mnist-2k-50pc", "mnist+fashion-4k-40pc",
       "mnist+fashion-rot-8k-10pc", "mnist+fashion-rot-8k-50pc"]
#: The sets a default run covers: every set of at most 4,000 rows.
CHEAP = [name for name in IMAGES[:6] + TABULAR + TOY]
#: Method names: baselines by their factory name, and the estimator.
METHODS = ["kmeans", "gmm", "umap+gmm", "umap+kmeans", "deep", "deep-affine"]


def _subset(X, y, n, seed=0):
    rows = np.sort(np.random.default_rng(seed).choice(len(X), n, replace=False))
    return X[rows], y[rows]


def _downsample(X):
    """28x28 images averaged over 2x2 blocks: 14x14."""
    return X.reshape(-1, 14, 2, 14, 2).mean(axis=(2, 4))


def _keep_per_class(X, y, counts, seed=0):
    """``counts(c, K)`` rows of each class ``c`` of the ``K``, drawn at random."""
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    keep = [rng.choice(np.flatnonzero(y == c), counts(c, len(classes)), replace=False)
            for c in classes]
    keep = np.sort(np.concatenate(keep))
    return X[keep], y[keep]


def _per_class(X, y, n):
    """``n`` rows of each class."""
    return _keep_per_class(X, y, lambda c, k: n)


def _long_tailed(X, y, ratio, largest):
    """Class c keeps ``largest * ratio**(-c / (K - 1))`` of its rows."""
    return _keep_per_class(
        X, y, lambda c, k: int(round(largest * ratio ** (-c / (k - 1)))))


def load(name, data_home):
    """(X, y, is_image) of a suite set."""
    base, _, per_class = name.rpartition("-")
    if per_class.endswith("pc") and per_class[:-2].isdigit():  # digits-15pc, ...
        X, y, is_image = load(base, data_home)
        return (*_per_class(X, y, int(per_class[:-2])), is_image)
    which, _, ratio = name.partition("-lt")
    if ratio.isdigit():  # digits-lt10, mnist-lt50, ...: long-tailed subsets
        if which == "digits":
            X, y = skdata.load_digits(return_X_y=True)
            return (*_long_tailed(X, y, int(ratio), 170), True)
        X, y, _ = load("fashion-mnist" if which == "fashion" else which, data_home)
        return (*_long_tailed(X, y, int(ratio), 1000), True)
    if name == "blobs-10to1":
        X, y = skdata.make_blobs(n_samples=[500, 150, 50],
                                 centers=[[0, 0], [4, 4], [-4, 4]], random_state=0)
        return X, y, False
    if name == "blobs-outliers":
        centers = np.random.default_rng(1).uniform(-10, 10, (5, 5))
        X, y = skdata.make_blobs(n_samples=[400, 400, 400, 30, 30],
                                 centers=centers, random_state=1)
        return X, y, False
    if name == "digits":
        X, y = skdata.load_digits(return_X_y=True)
        return X, y, True
    if name in TABULAR:
        X, y = getattr(skdata, f"load_{name}")(return_X_y=True)
        return StandardScaler().fit_transform(X), y, False
    if name in TOY:
        return (*make_toy_datasets(500, random_state=0)[name], False)

    def images(which):
        loader = load_mnist if which == "mnist" else load_fashion_mnist
        X, y = loader(data_home=data_home, return_X_y=True)
        return np.asarray(X, dtype=np.float32).reshape(-1, 28, 28), np.asarray(y)

    if name in ("mnist", "fashion-mnist"):
        X, y = images(name.split("-")[0])
        return X.reshape(len(X), -1), y, True
    if name == "mnist+fashion-rot-8k":  # 40 classes: the 2,000-row subsets
        Xm, ym, _ = load("mnist-2k", data_home)  # and their quarter turns
        Xf, yf, _ = load("fashion-2k", data_home)
        X = np.concatenate([Xm, Xf])
        turned = np.rot90(X.reshape(-1, 28, 28), 1, axes=(1, 2)).reshape(len(X), -1)
        y = np.concatenate([ym, yf + 10])
        return np.concatenate([X, turned]), np.concatenate([y, y + 20]), True
    if name == "mnist+fashion-4k":
        Xm, ym = _subset(*images("mnist"), 2000, seed=1)
        Xf, yf = _subset(*images("fashion"), 2000, seed=2)
        X, y = np.concatenate([Xm, Xf]), np.concatenate([ym, yf + 10])
        return X.reshape(len(X), -1), y, True
    which, *rest = name.split("-")
    X, y = images(which)
    if rest[0] == "14px":
        X, rest = _downsample(X), rest[1:]
    X, y = _subset(X, y, int(rest[0].rstrip("k")) * 1000)
    return X.reshape(len(X), -1), y, True


def make_method(method, n_clusters, seed, overrides):
    if method.startswith("deep"):
        params = {"augment": "affine"} if method == "deep-affine" else {}
        return DeepEntropyClustering(n_clusters, random_state=seed, device="cpu",
                                     **{**params, **overrides})
    return make_baseline(method, n_clusters, random_state=seed)


def run(args):
    overrides = parse_overrides(args.set)
    names = {"cheap": CHEAP, "unequal": UNEQUAL + ["breast_cancer"],
             "few": FEW, "all": IMAGES + TABULAR + TOY + UNEQUAL + FEW}.get(
        args.datasets, args.datasets.split(","))
    methods = METHODS if args.methods == "all" else args.methods.split(",")
    measured_at, out = commit() or "not recorded", Path(args.out)
    for name in names:
        X, y, is_image = load(name, args.data_home)
        k = len(np.unique(y))
        for method in methods:
            if method == "deep-affine" and not is_image:
                continue
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                estimator = make_method(method, k, seed, overrides)
                start = time.perf_counter()
                labels = estimator.fit_predict(X)
                seconds = time.perf_counter() - start
                record = {"dataset": name, "n_samples": len(X), "n_clusters": k,
                          "method": method, "label": args.label if method.startswith(
                              "deep") else "", "overrides": repr(overrides)
                          if method.startswith("deep") else "",
                          "seed": seed, **clustering_report(y, labels),
                          "fit_seconds": seconds, "commit": measured_at,
                          "torch_threads": torch.get_num_threads()}
                print(json.dumps(record), flush=True)
                with out.open("a") as file:
                    file.write(json.dumps(record) + "\n")


def _method_key(record):
    label = record["label"]
    return record["method"] + (f" [{label}]" if label else "")


def _commit_ages():
    """Short commit hash -> its age in this checkout's history (0: HEAD)."""
    try:
        log = subprocess.run(["git", "rev-list", "--abbrev-commit", "--abbrev=7",
                              "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return {}
    return {h: i for i, h in enumerate(log)}


def latest_records(paths=None, key=_method_key):
    """The records of ``paths`` (None: the suite's, ``results/suite*.jsonl``),
    the latest commit's of each (data set, ``key`` (method and label), seed):
    records are read oldest commit first (by this checkout's history; a
    commit it does not know counts as the oldest), files in name order."""
    records = []
    for path in sorted(RESULTS.glob("suite*.jsonl")) if paths is None else paths:
        records += [json.loads(line) for line in path.read_text().splitlines()]
    age = _commit_ages()
    records.sort(key=lambda r: -age.get(str(r.get("commit", "")).rstrip("+"),
                                        len(age)))
    latest = {}
    for r in records:
        latest[(r["dataset"], key(r), r["seed"])] = r
    return list(latest.values())


def accuracy_cells(records, key=_method_key):
    """(data set, method key) -> (mean ACC, median fit seconds, records)."""
    groups = {}
    for r in records:
        groups.setdefault((r["dataset"], key(r)), []).append(r)
    return {cell: (np.mean([r["accuracy"] for r in rs]),
                   np.median([r["fit_seconds"] for r in rs]), len(rs))
            for cell, rs in groups.items()}


def accuracy_table(records, datasets, methods, cell):
    """A markdown table of ``cell`` (see :func:`accuracy_cells`): a row per
    data set (its rows and K from ``records``), a column per method."""
    rows = []
    for d in datasets:
        r0 = next(r for r in records if r["dataset"] == d)
        row = [d, f"{r0['n_samples']:,}", str(r0["n_clusters"])]
        for m in methods:
            if (d, m) in cell:
                a, s, n = cell[d, m]
                row.append(f"{a:.3f} ({s:.0f} s, n={n})")
            else:
                row.append("")
        rows.append(row)
    return markdown_table(["data", "rows", "K", *methods], rows)


def report():
    records = latest_records()
    if not records:
        return
    order = IMAGES + TABULAR + TOY + UNEQUAL + FEW
    datasets = sorted({r["dataset"] for r in records}, key=order.index)
    methods = sorted({_method_key(r) for r in records},
                     key=lambda m: (METHODS.index(m.split(" ")[0]), m))
    cell = accuracy_cells(records)
    lines = [
        "# Development suite", "",
        "Generated by `benchmarks/run_suite.py` from "
        "`benchmarks/results/suite*.jsonl` (do not edit by hand). Hungarian "
        "accuracy, mean over seeds (`n`), and the median fit time in seconds, "
        "one CPU thread per fit unless the records say otherwise. UMAP+GMM is "
        "the bar, KMeans and GMM the floor. Bracketed labels name a variant "
        "of DeepEntropyClustering's defaults (`--set` overrides, listed "
        "below).", "",
        accuracy_table(records, datasets, methods, cell),
    ]
    bar = next((m for m in methods if m == "umap+gmm"), None)
    if bar is not None:
        lines += ["", "Mean ACC over the sets that have both, and sets won or "
                  "tied against UMAP+GMM (within 0.005):", ""]
        for m in methods:
            both = [d for d in datasets if (d, m) in cell and (d, bar) in cell]
            if m == bar or not both:
                continue
            diff = [cell[d, m][0] - cell[d, bar][0] for d in both]
            wins = sum(x >= -0.005 for x in diff)
            lines.append(f"- {m}: {np.mean([cell[d, m][0] for d in both]):.3f} "
                         f"against {np.mean([cell[d, bar][0] for d in both]):.3f}"
                         f" on {len(both)} sets; at or above on {wins}")
    variants = sorted({(r["label"], r["overrides"]) for r in records
                       if r["label"]})
    if variants:
        lines += ["", "Variants:", ""]
        lines += [f"- `{label}`: `{overrides}`" for label, overrides in variants]
    commits = sorted({r["commit"] for r in records})
    lines += ["", f"Measured at commits: {', '.join(commits)}."]
    REPORT.write_text("\n".join(lines) + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", default="cheap",
                   help="'cheap' (default), 'unequal', 'few', 'all' or a "
                   "comma-separated list")
    p.add_argument("--methods", default="all",
                   help=f"'all' or a comma-separated subset of {METHODS}")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--first-seed", type=int, default=0,
                   help="seeds first_seed to first_seed + seeds - 1")
    p.add_argument("--set", action="append", default=[],
                   help="a DeepEntropyClustering parameter, e.g. batch_size=64")
    p.add_argument("--label", default="", help="names the --set variant")
    p.add_argument("--data-home", default=str(ROOT.parent / "shared" / "datasets"))
    p.add_argument("--out", default=str(RESULTS / "suite.jsonl"))
    p.add_argument("--report-only", action="store_true")
    args = p.parse_args()
    if not args.report_only:
        run(args)
    report()


if __name__ == "__main__":
    main()
