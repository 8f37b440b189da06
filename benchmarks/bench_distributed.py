"""One fit across processes (``distributed=True`` under torchrun) against
the same fit in one process: time per epoch, speed-up, and agreement.

MNIST's 70,000 images are split into ``P`` contiguous shards of a random
permutation (every shard holds every digit), and ``torchrun
--nproc_per_node=P`` fits ``DeepEntropyClustering(10, n_init=1,
max_iter=--epochs, n_iter_no_change=0, random_state=0, distributed=True)``,
each process on its shard with one torch thread, on the CPU (gloo). The
table gives the median epoch time (from ``history_``), the whole fit's
time, the speed-up over one process, the accuracy of the labels after
those few epochs (not that of a full fit) and the agreement of the labels
with the one-process fit's (the accuracy of one labelling against the other,
clusters matched). The processes search neighbours among their own rows,
so the fits differ by more than rounding. Records go to
``benchmarks/results/distributed_cpu.json`` and ``distributed_cpu.md``.

Usage::

    python benchmarks/bench_distributed.py                  # 1 and 2 processes
    python benchmarks/bench_distributed.py --processes 1,2,4 --epochs 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _tables import RESULTS, commit, markdown_table

import skdeepcluster


def _order(n):
    return np.random.default_rng(0).permutation(n)


def worker(out_dir, epochs, data_home):
    """One process of the fit (run by torchrun)."""
    import torch

    from skdeepcluster import DeepEntropyClustering
    from skdeepcluster.datasets import load_mnist

    torch.set_num_threads(1)
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    X, _ = load_mnist(data_home, return_X_y=True)
    rows = np.array_split(_order(len(X)), world)[rank]
    model = DeepEntropyClustering(10, n_init=1, max_iter=epochs, n_iter_no_change=0,
                                  random_state=0, distributed=True, device="cpu")
    start = time.perf_counter()
    model.fit(X[rows])
    seconds = time.perf_counter() - start
    np.save(Path(out_dir) / f"labels{rank}.npy", model.labels_)
    if rank == 0:
        (Path(out_dir) / "fit.json").write_text(json.dumps({
            "fit_s": seconds,
            "epoch_s": float(np.median([h["time"] for h in model.history_]))}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", default="distributed_cpu")
    parser.add_argument("--data-home", default=str(
        Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.epochs, args.data_home)

    from skdeepcluster.datasets import load_mnist
    from skdeepcluster.metrics import clustering_accuracy

    at = commit()
    _, y = load_mnist(args.data_home, return_X_y=True)
    y = y[_order(len(y))]
    records, first = [], None
    for p in (int(v) for v in args.processes.split(",")):
        with tempfile.TemporaryDirectory() as out:
            subprocess.run([sys.executable, "-m", "torch.distributed.run",
                            "--standalone", f"--nproc_per_node={p}", __file__,
                            "--worker", out, "--epochs", str(args.epochs),
                            "--data-home", args.data_home],
                           check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
            labels = np.concatenate([np.load(Path(out) / f"labels{r}.npy")
                                     for r in range(p)])
            fit = json.loads((Path(out) / "fit.json").read_text())
        first = labels if first is None else first
        records.append({"processes": p, **fit, "acc": clustering_accuracy(y, labels),
                        "agreement": clustering_accuracy(first, labels)})
        print(records[-1], flush=True)
    base = records[0]["epoch_s"]
    rows = [[r["processes"], f"{70_000 // r['processes']:,}", f"{r['epoch_s']:.2f}",
             f"{r['fit_s']:.1f}", f"{base / r['epoch_s']:.2f}", f"{r['acc']:.3f}",
             f"{r['agreement']:.3f}"] for r in records]
    table = markdown_table(["processes", "rows each", "epoch (s)", "fit (s)",
                            "speed-up", f"ACC after {args.epochs} epochs",
                            "agreement with 1 process"], rows)
    header = (f"MNIST, one fit of {args.epochs} epochs across processes on the "
              f"CPU (gloo, one torch thread each), {os.cpu_count()} cores; "
              f"skdeepcluster {skdeepcluster.__version__} at {at}; "
              "`python benchmarks/bench_distributed.py`.\n\n")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(
        {"commit": at, "epochs": args.epochs, "records": records}, indent=2))
    (RESULTS / f"{args.out}.md").write_text(header + table + "\n")
    print(header + table)


if __name__ == "__main__":
    main()
