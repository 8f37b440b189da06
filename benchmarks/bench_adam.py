"""The package's Adam against ``torch.optim.Adam`` (for-loop, foreach and, on
CUDA, fused): time per step on the parameters of the default MLP.

Each optimiser steps the parameters of ``hidden_layer_sizes=(256, 256)``
MLPs for digits-sized (64) and MNIST-sized (784) inputs, with fixed
gradients, 1,000 steps after 50 warm-up steps, 5 repeats; the table gives the
median time per step. Results go to ``benchmarks/results/adam_<device>.json``
and ``.md``.

Usage::

    python benchmarks/bench_adam.py                 # CPU, one torch thread
    python benchmarks/bench_adam.py --device cuda
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from _tables import RESULTS, commit, markdown_table

from skdeepcluster import DeepEntropyClustering
from skdeepcluster._optim import Adam


def _optimisers(params, device):
    yield "skdeepcluster", Adam(params, lr=1e-3)
    yield "torch, for-loop", torch.optim.Adam(params, lr=1e-3, foreach=False)
    yield "torch, foreach", torch.optim.Adam(params, lr=1e-3, foreach=True)
    if device.type == "cuda":
        yield "torch, fused", torch.optim.Adam(params, lr=1e-3, fused=True)


def _ms_per_step(opt, device, steps=1000):
    for _ in range(50):
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) * 1000 / steps


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    rows = []
    for n_features in (64, 784):
        # the estimator's own network, as fit builds it
        net = DeepEntropyClustering(10)._build(n_features, device)
        params = list(net.parameters())
        for q in params:
            q.grad = torch.randn_like(q)
        for name, _ in _optimisers(params, device):
            times = [_ms_per_step(dict(_optimisers(params, device))[name], device)
                     for _ in range(args.repeats)]
            rows.append({"n_features": n_features, "optimiser": name,
                         "ms_per_step": float(np.median(times))})
            print(json.dumps(rows[-1]), flush=True)
    meta = {"commit": commit(), "torch": torch.__version__, "device": str(device),
            "torch_threads": args.threads, "repeats": args.repeats}
    out = RESULTS / f"adam_{device.type}"
    out.with_suffix(".json").write_text(
        json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    table = markdown_table(
        ["inputs", "optimiser", "ms per step"],
        [[r["n_features"], r["optimiser"], f"{r['ms_per_step']:.3f}"] for r in rows])
    out.with_suffix(".md").write_text(
        "# Adam: time per step\n\n`python benchmarks/bench_adam.py`: the default "
        f"MLP's parameters, median of {args.repeats} runs of 1,000 steps; {meta}.\n\n"
        + table + "\n")
    print(table)


if __name__ == "__main__":
    main()
