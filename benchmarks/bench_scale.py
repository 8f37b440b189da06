"""Cost against the number of rows, up to a million: MNIST and random affine
distortions of it (infinite-MNIST style), stored as a read-only memmap.

For each size ``n`` the script writes an ``(n, 784)`` float32 memmap in a
temporary directory (deleted afterwards): the 70,000 MNIST images first,
then distortions of randomly chosen ones (rotation up to 15 degrees, scale
0.85-1.15, shift up to 3 pixels, from a seeded generator). A fresh Python
process fits ``DeepEntropyClustering(10, n_init=1, max_iter=--epochs,
n_iter_no_change=0, random_state=0)`` on it and records the fit time, the
median epoch time (from ``history_``), the rest of the fit (scaling, the
neighbour search, final inference), the peak resident memory and the
accuracy of ``predict`` on the original 70,000 images (the first ``n``
below 70,000). The plan is the same
at every size, so the epoch time shows how the cost grows with ``n``; the
accuracy after so few epochs is not that of a full fit; ``--epochs 0`` fits
with the estimator's default plan instead. Results go to
``benchmarks/results/scale_cpu.json`` and ``scale_cpu.md``.

Usage::

    python benchmarks/bench_scale.py                        # 70k, 280k, 1M rows
    python benchmarks/bench_scale.py --sizes 70000,140000 --epochs 1
    python benchmarks/bench_scale.py --sizes 1000000 --epochs 0 --out x  # defaults
    python benchmarks/bench_scale.py --sizes 1000000 --epochs 0 --set n_init=1 \
        --set max_iter=50 --out y                       # one 50-epoch run
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from _tables import RESULTS, commit, markdown_table, parse_overrides

import skdeepcluster
from skdeepcluster.datasets import load_mnist

FIT = """
import json, resource, sys, time
import numpy as np
from skdeepcluster import DeepEntropyClustering
from skdeepcluster.metrics import clustering_accuracy
path, labels_path = sys.argv[1], sys.argv[4]
n, epochs, overrides = int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[5])
X = np.memmap(path, dtype=np.float32, mode="r", shape=(n, 784))
y = np.load(labels_path)[:n]
plan = {} if epochs == 0 else dict(n_init=1, max_iter=epochs, n_iter_no_change=0)
model = DeepEntropyClustering(10, random_state=0, device="cpu",
                              **{**plan, **overrides})
start = time.perf_counter()
model.fit(X)
fit = time.perf_counter() - start
epoch = float(np.median([h["time"] for h in model.history_]))
acc = clustering_accuracy(y, model.predict(X[: len(y)]))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
try:
    import pynndescent  # noqa: F401
    beyond = "approximate"
except ImportError:
    beyond = "blocks"
print(json.dumps({"neighbours": "exact" if n <= 100_000 else beyond,
                  "fit_s": fit, "epoch_s": epoch,
                  "other_s": fit - sum(h["time"] for h in model.history_),
                  "peak_rss_mib": peak, "acc_on_mnist": acc,
                  "epochs": model.n_iter_}))
"""


def distort(images, generator):
    """Random rotation, scale and shift of (m, 28, 28) images."""
    m = images.shape[0]

    def uniform(low, high):
        return low + (high - low) * torch.rand(m, generator=generator)

    angle = uniform(-15, 15) * math.pi / 180
    scale = uniform(0.85, 1.15)
    shift = uniform(-3 / 14, 3 / 14), uniform(-3 / 14, 3 / 14)
    rows = [torch.stack([angle.cos() / scale, -angle.sin() / scale, shift[0]], 1),
            torch.stack([angle.sin() / scale, angle.cos() / scale, shift[1]], 1)]
    grid = F.affine_grid(torch.stack(rows, 1), [m, 1, 28, 28], align_corners=False)
    return F.grid_sample(images[:, None], grid, align_corners=False)[:, 0]


def write_memmap(path, X, n, seed=0, chunk=20_000):
    out = np.memmap(path, dtype=np.float32, mode="w+", shape=(n, 784))
    out[: min(n, len(X))] = X[:n]
    generator = torch.Generator().manual_seed(seed)
    images = torch.from_numpy(X.reshape(-1, 28, 28))
    for start in range(len(X), n, chunk):
        stop = min(start + chunk, n)
        pick = torch.randint(len(X), (stop - start,), generator=generator)
        out[start:stop] = distort(images[pick], generator).reshape(-1, 784).numpy()
    out.flush()
    del out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="70000,280000,1000000")
    p.add_argument("--epochs", type=int, default=2,
                   help="epochs of one restart; 0: the estimator's default plan")
    p.add_argument("--set", action="append", default=[],
                   help="a DeepEntropyClustering parameter, e.g. n_init=1")
    p.add_argument("--out", default=str(RESULTS / "scale_cpu"),
                   help="path of the records without suffix (.json, .md)")
    p.add_argument("--data-home", default=str(Path(__file__).resolve().parents[2]
                                              / "shared" / "datasets"))
    args = p.parse_args()
    overrides = parse_overrides(args.set)
    # the code that runs: taken now, not when the (long) runs end
    meta = {"commit": commit(), "skdeepcluster": skdeepcluster.__version__,
            "torch": torch.__version__, "epochs": args.epochs,
            "overrides": repr(overrides)}
    X, y = load_mnist(args.data_home, return_X_y=True)
    X = np.asarray(X, dtype=np.float32)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        labels = Path(tmp) / "y.npy"
        np.save(labels, np.asarray(y))
        for n in map(int, args.sizes.split(",")):
            path = Path(tmp) / f"x{n}.f32"
            write_memmap(path, X, n)
            done = subprocess.run(
                [sys.executable, "-c", textwrap.dedent(FIT), str(path), str(n),
                 str(args.epochs), str(labels), json.dumps(overrides)],
                capture_output=True, text=True, check=True)
            row = {"n_samples": n, **json.loads(done.stdout.strip().splitlines()[-1])}
            print(json.dumps(row), flush=True)
            rows.append(row)
            path.unlink()
    out = Path(args.out)
    out.with_suffix(".json").write_text(
        json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    base = rows[0]
    table = markdown_table(
        ["rows", "neighbours", "fit, s", "epoch, s", "epoch per 70k rows, s",
         "rest of fit, s", "peak RSS, MiB", "ACC on MNIST"],  # rest: all but the
        # kept run's epochs (the search, inference, other restarts' screens)
        [[f"{r['n_samples']:,}", r["neighbours"], f"{r['fit_s']:.0f}",
          f"{r['epoch_s']:.1f}",
          f"{r['epoch_s'] * 70_000 / r['n_samples']:.1f}", f"{r['other_s']:.0f}",
          f"{r['peak_rss_mib']:.0f}", f"{r['acc_on_mnist']:.3f}"] for r in rows])
    plan = (f"one restart of {args.epochs} epochs, so the accuracy is not that of "
            "a full fit" if args.epochs else "the estimator's default plan at the "
            "commit below" + (f" with {overrides}" if overrides else ""))
    out.with_suffix(".md").write_text(
        "# Cost against the number of rows\n\n"
        f"`python benchmarks/bench_scale.py`: MNIST plus random affine distortions, "
        f"a read-only float32 memmap; {plan}; one CPU process, shared machine; "
        f"{meta}. The first row is the baseline: {base['n_samples']:,} rows.\n\n"
        + table + "\n")
    print(table)


if __name__ == "__main__":
    main()
