"""Fit time alone and beside CPU-bound neighbours: does a fit degrade
gracefully when the machine is shared?

Each method is fitted on digits with the process's default thread settings
(torch's and the BLAS's: what a user gets), first with the machine to itself,
then beside ``--neighbours`` processes that each keep one core busy with a
NumPy matrix product. The table gives the median wall time of ``--repeats``
fits in each condition and their ratio; the target is a ratio of about 2 at
most, as for KMeans. "deep-short" is one 15-epoch restart of one head,
"deep" the defaults (one run of 8 heads for 50 epochs on digits). Records go to
``benchmarks/results/load_cpu.json`` and ``load_cpu.md`` (``--out`` for
another place).

Usage::

    python benchmarks/bench_load.py
    python benchmarks/bench_load.py --neighbours 2 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from pathlib import Path

import numpy as np
import torch
from _tables import RESULTS, commit, markdown_table
from sklearn.datasets import load_digits

import skdeepcluster
from skdeepcluster import DeepEntropyClustering
from skdeepcluster.baselines import make_baseline

METHODS = {
    "kmeans": lambda: make_baseline("kmeans", 10, random_state=0),
    # one restart of one head for 15 epochs, and the defaults
    "deep-short": lambda: DeepEntropyClustering(
        10, n_init=1, n_heads=1, max_iter=15, n_iter_no_change=0, random_state=0),
    "deep": lambda: DeepEntropyClustering(10, random_state=0),
}


def _spin(stop):
    """Keep one core busy until ``stop`` is set (a single-threaded BLAS)."""
    os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = "1"
    a = np.random.default_rng(0).standard_normal((200, 200))
    while not stop.is_set():
        a = np.tanh(a @ a)


def _time_fits(make, X, repeats):
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        make().fit(X)
        seconds.append(time.perf_counter() - start)
    return seconds


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--neighbours", type=int, default=os.cpu_count() or 1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--out", default=str(RESULTS / "load_cpu"),
                   help="path of the records without suffix (.json, .md)")
    args = p.parse_args()
    out = Path(args.out)
    # the imported package's (maybe another checkout's), now, before the runs
    measured_at = commit(Path(skdeepcluster.__file__).resolve().parent)
    X = load_digits().data.astype(np.float32)
    rows = []
    for name in args.methods.split(","):
        quiet = _time_fits(METHODS[name], X, args.repeats)
        ctx = multiprocessing.get_context("spawn")
        stop = ctx.Event()
        spinners = [ctx.Process(target=_spin, args=(stop,))
                    for _ in range(args.neighbours)]
        for s in spinners:
            s.start()
        time.sleep(1.0)  # let them start spinning
        try:
            busy = _time_fits(METHODS[name], X, args.repeats)
        finally:
            stop.set()
            for s in spinners:
                s.join()
        rows.append({"method": name, "quiet_s": quiet, "busy_s": busy,
                     "ratio": float(np.median(busy) / np.median(quiet))})
        print(json.dumps(rows[-1]), flush=True)
    meta = {"commit": measured_at, "skdeepcluster": skdeepcluster.__version__,
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "cpus": os.cpu_count(), "neighbours": args.neighbours,
            "repeats": args.repeats}
    out.with_suffix(".json").write_text(
        json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    table = markdown_table(
        ["method", "alone, s", "beside neighbours, s", "ratio"],
        [[r["method"], f"{np.median(r['quiet_s']):.2f}",
          f"{np.median(r['busy_s']):.2f}", f"{r['ratio']:.2f}"] for r in rows])
    out.with_suffix(".md").write_text(
        "# Fit time on a shared machine\n\n"
        f"`python benchmarks/bench_load.py`: digits, median of {args.repeats} fits "
        f"alone and beside {args.neighbours} CPU-bound neighbour process(es), default "
        f"thread settings; {meta}.\n\n" + table + "\n")
    print(table)


if __name__ == "__main__":
    main()
