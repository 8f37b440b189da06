"""Training cost of one epoch on 70,000 x 784 input (MLP), on this machine.

Compares, with the same network (MLP 784-256-256-10) and batch size (256):

* ``supervised``: SoftLabelClassifier with Shannon CE on the true labels (a
  plain supervised epoch: one forward and backward per batch);
* ``self-labeling``: DeepEntropyClustering with ``n_neighbors=0`` (the y-step
  per batch, computed on the same forward pass: the overhead of self-labeling
  itself);
* ``default``: DeepEntropyClustering with its defaults (each batch is also
  paired with a nearest neighbour: a second view through the network, plus a
  one-off neighbour search before the first epoch);
* ``default + VAT``: the default with ``adversarial_weight=1`` (virtual
  adversarial training: one more forward and backward pass per batch).

The self-labeling overhead proper (the y-step and the statistics each batch
keeps) is ``self-labeling`` against ``supervised``: the same network, batch
size and number of forward/backward passes. The consistency views of the
default are extra passes through the network on top of that.

Each configuration runs in a fresh subprocess (peak RSS is per process) for 3
epochs, and the four configurations are run in ``--rounds`` interleaved rounds
(default 3), so that a slow spell of a shared machine hits every configuration
alike. A configuration's epoch time is the median of its epochs' times from
``history_`` over all rounds; overheads are ratios of those medians, and the
spread of the per-round ratios is reported beside them. Writes
``benchmarks/results/epoch_cost_<device>.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"

CHILD = r"""
import json, resource, sys, time
import numpy as np, torch
from skdeepcluster import DeepEntropyClustering, SoftLabelClassifier
from skdeepcluster.datasets import load_mnist
config, device, data_home = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    X, y = load_mnist(data_home, return_X_y=True)
    source = "MNIST (70,000 x 784, float32)"
except FileNotFoundError:
    rng = np.random.default_rng(0)
    X = rng.random((70_000, 784), dtype=np.float32)
    y = rng.integers(0, 10, 70_000)
    source = "uniform random (70,000 x 784, float32)"
common = dict(hidden_layer_sizes=(256, 256), batch_size=256, max_iter=3,
              n_iter_no_change=0, random_state=0, device=device,
              learning_rate_init=1e-3, margin_weight=1e-3)
if config == "supervised":
    model = SoftLabelClassifier(loss="shannon", **common)
    args = (X, y)
else:
    extra = {"self-labeling": {"n_neighbors": 0},
             "default + VAT": {"adversarial_weight": 1.0}}.get(config, {})
    model = DeepEntropyClustering(n_clusters=10, n_init=1, **common, **extra)
    args = (X,)
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
model.fit(*args)
total = time.perf_counter() - start
epochs = [h["time"] for h in model.history_]
print(json.dumps({"config": config, "epoch_seconds": float(np.median(epochs)),
                  "epoch_times": epochs, "fit_seconds": total,
                  "setup_seconds": total - sum(epochs),
                  "peak_rss_mb":
                      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rss_before_fit_mb": rss0 / 1024, "data": source,
                  "threads": torch.get_num_threads()}))
"""


CONFIGS = ("supervised", "self-labeling", "default", "default + VAT")
TARGET = 0.25  # self-labeling overhead over a supervised epoch


def _summary(config, runs):
    """One configuration over all rounds: medians, worst peak memory, loads."""
    epochs = [t for run in runs for t in run["epoch_times"]]
    return {"config": config, "epoch_seconds": statistics.median(epochs),
            "epoch_times": epochs,
            "setup_seconds": statistics.median(r["setup_seconds"] for r in runs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "load_average_1min": [v for r in runs for v in r["load_average_1min"]],
            "data": runs[0]["data"], "threads": runs[0]["threads"],
            "rounds": len(runs)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--data-home", default=str(ROOT.parent / "shared" / "datasets"))
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    runs = {config: [] for config in CONFIGS}
    for round_ in range(args.rounds):
        for config in CONFIGS:
            load_before = os.getloadavg()[0]
            out = subprocess.run([sys.executable, "-c", CHILD, config, args.device,
                                  args.data_home], capture_output=True, text=True,
                                 check=True, cwd=ROOT)
            run = json.loads(out.stdout.strip().splitlines()[-1])
            run["load_average_1min"] = [load_before, os.getloadavg()[0]]
            runs[config].append(run)
            print(round_, run, flush=True)
    rows = [_summary(config, runs[config]) for config in CONFIGS]
    base = rows[0]["epoch_seconds"]
    for r, config in zip(rows, CONFIGS):
        r["overhead_vs_supervised"] = r["epoch_seconds"] / base - 1
        per_round = [a["epoch_seconds"] / b["epoch_seconds"] - 1
                     for a, b in zip(runs[config], runs[CONFIGS[0]])]
        r["overhead_per_round"] = per_round
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"epoch_cost_{args.device}"
    meta = {"python": platform.python_version(), "machine": platform.machine(),
            "processor": platform.processor(), "device": args.device}
    stem.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows},
                                                    indent=1))
    lines = [f"# Epoch cost on {rows[0]['data']} ({args.device}, "
             f"{rows[0]['threads']} torch threads)", "",
             "`python benchmarks/bench_epoch_cost.py`: MLP 784-256-256-10, batch 256, "
             f"3 epochs per process, {args.rounds} interleaved rounds of the four "
             "configurations; s / epoch is the median over all epochs of all "
             "rounds, the overhead a ratio of those medians, with the range of "
             "the per-round ratios in brackets. "
             "*Self-labeling* against *supervised* is the overhead of the y-step "
             "itself (same passes through the network); *default* adds the "
             "neighbour view (a second forward and backward pass) and a one-off "
             "neighbour search; *default + VAT* adds virtual adversarial training. "
             "The one-off setup includes about 2 s of torch imports in each fresh "
             "process. Load average (1 min): the largest seen before or after "
             "a run; on a 2-core machine, above 2 means other work shared it.",
             "", "| configuration | s / epoch | overhead vs supervised | "
             "one-off setup (s) | peak RSS (MB) | max load |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        spread = r["overhead_per_round"]
        lines.append(f"| {r['config']} | {r['epoch_seconds']:.2f} | "
                     f"{100 * r['overhead_vs_supervised']:+.0f}% "
                     f"[{100 * min(spread):+.0f}%, {100 * max(spread):+.0f}%] | "
                     f"{r['setup_seconds']:.1f} | {r['peak_rss_mb']:.0f} | "
                     f"{max(r['load_average_1min']):.1f} |")
    overhead = rows[1]["overhead_vs_supervised"]
    lines += ["", f"Target: self-labeling overhead <= "
              f"{100 * TARGET:.0f}%: {100 * overhead:+.0f}%, "
              f"**{'met' if overhead <= TARGET else 'missed'}**."]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
