"""Clustering quality benchmark: methods x data sets x seeds.

Writes every fit as one JSON record (appended to ``--out``), then regenerates
``docs/benchmarks.md`` from all ``benchmarks/results/quality_*.json`` files.

Examples
--------
python benchmarks/run_quality.py --datasets digits,iris,wine,breast_cancer
python benchmarks/run_quality.py --datasets mnist,fashion-mnist --device cuda \
    --data-home ../shared/datasets --out benchmarks/results/quality_cuda.json
python benchmarks/run_quality.py --report-only
python benchmarks/run_quality.py --toy-panel
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import sklearn
import torch
from _tables import commit
from sklearn import datasets as skdata
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler

from skdeepcluster import DeepEntropyClustering
from skdeepcluster.baselines import BASELINES, OPTIONAL_BASELINES, make_baseline
from skdeepcluster.datasets import load_fashion_mnist, load_mnist, make_toy_datasets
from skdeepcluster.metrics import clustering_report

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
REPORT = ROOT / "docs" / "benchmarks.md"
TABULAR = {"iris": skdata.load_iris, "wine": skdata.load_wine,
           "breast_cancer": skdata.load_breast_cancer}
# DeepEntropyClustering's settings per method: the defaults but for these
DEEP = {"deep-collision": {"loss": "collision"}, "deep-reverse": {"loss": "reverse"},
        "deep-shannon": {"loss": "shannon"},
        # the documented image option for MLPs (images only: 28×28 or 8×8)
        "deep-collision-affine": {"loss": "collision", "augment": "affine"}}
# Baselines skipped above this many samples, to bound the time of a run
# (make_baseline itself refuses the quadratic ones above 20,000).
SKIP_ABOVE = {"agglomerative": 20_000, "spectral": 5_000}
ALL_METHODS = [*BASELINES, *DEEP]  # the order of the report's rows
# what a run fits unless --methods says otherwise: no optional package needed
DEFAULT_METHODS = [m for m in ALL_METHODS if m not in OPTIONAL_BASELINES]


def load(name, data_home):
    """(X, y, note) for a benchmark data set; tabular sets are standardised."""
    if name == "digits":
        X, y = skdata.load_digits(return_X_y=True)
        return X, y, "raw pixels (0-16)"
    if name in TABULAR:
        X, y = TABULAR[name](return_X_y=True)
        return StandardScaler().fit_transform(X), y, "standardised features"
    loader = load_mnist if name == "mnist" else load_fashion_mnist
    X, y = loader(data_home, return_X_y=True)
    return X, y, "all 70,000 images (train + test), pixels in [0, 1]"


def make_method(method, n_clusters, seed, device, n_samples, images=True):
    """The estimator of one method, or None where it does not apply (the
    image option on tabular data, for one, or a baseline above SKIP_ABOVE)."""
    if method in BASELINES:
        if n_samples > SKIP_ABOVE.get(method, n_samples):
            return None
        return make_baseline(method, n_clusters, random_state=seed)
    if "augment" in DEEP[method] and not images:
        return None
    return DeepEntropyClustering(n_clusters, random_state=seed, device=device,
                                 **DEEP[method])


def run(args):
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    records = json.loads(out.read_text()) if out.exists() else []
    env = {"device": args.device if args.device != "auto" else (
        "cuda" if torch.cuda.is_available() else "cpu"),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "cpu_threads": torch.get_num_threads(), "torch": torch.__version__,
        "sklearn": sklearn.__version__, "python": platform.python_version(),
        "commit": commit()}
    for name in args.datasets.split(","):
        X, y, note = load(name, args.data_home)
        k = len(np.unique(y))
        for method in args.methods.split(","):
            seeds = ([int(v) for v in args.seed_list.split(",")] if args.seed_list
                     else range(args.seeds))
            seeds = seeds if method != "agglomerative" else [0]
            for seed in seeds:
                model = make_method(method, k, seed, args.device, len(X),
                                    images=name not in TABULAR)
                if model is None:
                    continue
                start = time.perf_counter()
                labels = model.fit_predict(X)
                seconds = time.perf_counter() - start
                rec = {"dataset": name, "method": method, "seed": seed,
                       "n_samples": len(X), "data": note, "fit_seconds": seconds,
                       **clustering_report(y, labels), **env}
                if method in DEEP:
                    rec["epochs"] = model.n_iter_
                records = [r for r in records if not (
                    r["dataset"] == name and r["method"] == method
                    and r["seed"] == seed and r["device"] == env["device"])]
                records.append(rec)
                out.write_text(json.dumps(records, indent=1))
                print(f"{name:14s} {method:15s} seed={seed} acc={rec['accuracy']:.4f} "
                      f"nmi={rec['nmi']:.4f} ari={rec['ari']:.4f} "
                      f"t={seconds:.1f}s", flush=True)


def report():
    """Regenerate docs/benchmarks.md from every results file."""
    records = []
    for path in sorted(RESULTS.glob("quality_*.json")):
        records += json.loads(path.read_text())
    lines = [
        "# Clustering benchmarks",
        "",
        "Generated by `benchmarks/run_quality.py` from `benchmarks/results/"
        "quality_*.json` (do not edit by hand). Hungarian accuracy (ACC), NMI and "
        "ARI as mean ± std over seeds (`n` runs; agglomerative clustering is "
        "deterministic: one run); fit time is the median wall time of one fit. "
        "`DeepEntropyClustering` runs with its default settings except `loss` "
        "(and `augment=\"affine\"`, the documented image option, in the "
        "`-affine` rows). "
        "Rows with n < 5 were run for fewer than 5 seeds, "
        "except the 'CPU, 2 threads' section: one fit timed with both cores of the "
        "2-core machine and nothing else running (`OMP_NUM_THREADS=2`). "
        "Fit times were taken with other jobs sharing the machine (8 concurrent "
        "fits on the H100 host's 16 cores; the CPU runs shared 2 cores with other "
        "work), so they overstate the time of one fit on a quiet machine. "
        "Sections whose commit is 'not recorded' were measured before the "
        "records carried their commit, when `n_init=\"auto\"` ran no restarts "
        "on 70,000 samples: they are older defaults, kept for the record.",
        "",
    ]
    def section(r):  # CPU runs with different thread counts stay apart
        return (r["dataset"], r["device"],
                r["cpu_threads"] if r["device"] == "cpu" else 0)

    keys = sorted({section(r) for r in records},
                  key=lambda t: (t[0] not in ("digits",), t))
    for key in keys:
        dataset, device, _ = key
        rows = [r for r in records if section(r) == key]
        first = rows[0]
        where = first["gpu"] if device == "cuda" else (
            f"CPU, {first['cpu_threads']} threads")
        commits = sorted({r.get("commit") or "not recorded" for r in rows})
        lines += [f"## {dataset} ({first['n_samples']} samples, {first['data']}; "
                  f"{where})", "",
                  f"Code: commit {', '.join(commits)}.", "",
                  "| method | ACC | NMI | ARI | fit time (s) | n |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for method in ALL_METHODS:
            sel = [r for r in rows if r["method"] == method]
            if not sel:
                continue

            def ms(key):
                v = np.array([r[key] for r in sel])
                return f"{v.mean():.3f} ± {v.std():.3f}"

            t = np.median([r["fit_seconds"] for r in sel])
            lines.append(f"| {method} | {ms('accuracy')} | {ms('nmi')} | {ms('ari')} "
                         f"| {t:.1f} | {len(sel)} |")
        lines.append("")
    if (ROOT / "docs" / "_static" / "toy_panel.png").exists():
        lines += ["## 2-D panel", "",
                  "![DeepEntropyClustering against scikit-learn's clusterers on "
                  "2-D data](_static/toy_panel.png)", ""]
    REPORT.write_text("\n".join(lines))
    print(f"wrote {REPORT}")


def toy_panel():
    """A scikit-learn-style comparison grid on the 2-D toy data sets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    toys = make_toy_datasets(n_samples=500, random_state=0)
    methods = {
        "KMeans": lambda k: make_baseline("kmeans", k, random_state=0),
        # full covariances in 2-D, unlike the diagonal "gmm" baseline
        "GaussianMixture": lambda k: GaussianMixture(k, random_state=0),
        "Ward": lambda k: make_baseline("agglomerative", k),
        "Spectral": lambda k: make_baseline("spectral", k, random_state=0),
        "DeepEntropy": lambda k: DeepEntropyClustering(k, random_state=0),
    }
    fig, axes = plt.subplots(len(toys), len(methods),
                             figsize=(2.4 * len(methods), 2.4 * len(toys)))
    for i, (name, (X, y)) in enumerate(toys.items()):
        k = len(np.unique(y))
        for j, (mname, make) in enumerate(methods.items()):
            start = time.perf_counter()
            labels = make(k).fit_predict(X)
            t = time.perf_counter() - start
            acc = clustering_report(y, labels)["accuracy"]
            ax = axes[i, j]
            ax.scatter(X[:, 0], X[:, 1], c=labels, s=4, cmap="tab10")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.text(0.98, 0.02, f"ACC {acc:.2f}  {t:.1f}s", transform=ax.transAxes,
                    ha="right", va="bottom", fontsize=7)
            if i == 0:
                ax.set_title(mname, fontsize=9)
            if j == 0:
                ax.set_ylabel(name, fontsize=9)
    fig.tight_layout()
    path = ROOT / "docs" / "_static" / "toy_panel.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    print(f"wrote {path}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", default="digits,iris,wine,breast_cancer")
    p.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                   help="comma-separated; also umap+gmm, umap+kmeans "
                   "(need umap-learn)")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--seed-list", default="", help="explicit seeds, e.g. 2,3")
    p.add_argument("--device", default="cpu")
    p.add_argument("--data-home", default=str(ROOT.parent / "shared" / "datasets"))
    p.add_argument("--out", default=str(RESULTS / "quality_cpu.json"))
    p.add_argument("--report-only", action="store_true")
    p.add_argument("--toy-panel", action="store_true")
    args = p.parse_args()
    if args.toy_panel:
        toy_panel()
    elif not args.report_only:
        run(args)
    report()


if __name__ == "__main__":
    main()
