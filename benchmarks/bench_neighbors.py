"""Nearest-neighbour search of the pairing term: time, recall, label agreement.

For each data set the rows are embedded as ``DeepEntropyClustering`` embeds
them (the network's input scaling, then PCA to at most 50 dimensions) and
10 neighbours per row are searched by each engine of
``skdeepcluster._neighbors``:

* ``exact``: scikit-learn's ``NearestNeighbors`` (the engine up to 100,000
  rows);
* ``blocks``: exact within random blocks of 20,000 rows (beyond 100,000
  rows without pynndescent);
* ``pynndescent``: approximate (beyond 100,000 rows with the ``ann`` extra),
  when installed.

It records each engine's wall time, its recall of the exact lists, and the
share of neighbours that carry the row's own class (what the pairing term
relies on). Results go to ``benchmarks/results/neighbors.json`` and
``neighbors.md``.

Usage::

    python benchmarks/bench_neighbors.py            # MNIST and Fashion-MNIST
    python benchmarks/bench_neighbors.py --datasets digits
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits

import skdeepcluster
from skdeepcluster._data import InputScaler
from skdeepcluster._neighbors import nearest_neighbors
from skdeepcluster.datasets import load_fashion_mnist, load_mnist

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
K = 10


def load(name, data_home):
    if name == "digits":
        return load_digits(return_X_y=True)
    loader = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist}[name]
    X, y = loader(data_home=data_home, return_X_y=True)
    return np.asarray(X, dtype=np.float32), np.asarray(y)


def search(X, engine):
    """The engine's lists and its wall time (seed 0, as a fit's first draw)."""
    scaler = InputScaler.fit(X)
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    found = nearest_neighbors(X, K, scaler, generator, engine={
        "pynndescent": "approximate"}.get(engine, engine))
    return found, time.perf_counter() - start


def engines():
    names = ["exact", "blocks"]
    try:
        import pynndescent  # noqa: F401
    except ImportError:
        return names
    return names + ["pynndescent"]


def run(args):
    records = []
    for name in args.datasets.split(","):
        X, y = load(name, args.data_home)
        exact = None
        for engine in engines():
            if engine == "blocks" and X.shape[0] <= 20_000:
                continue  # one block: the exact search
            if engine == "pynndescent":
                search(X[:2000], engine)  # numba compiles on first use
            found, seconds = search(X, engine)
            if engine == "exact":
                exact = found
            recall = np.mean([len(set(a) & set(b)) / K
                              for a, b in zip(found, exact)])
            record = {"dataset": name, "n_samples": X.shape[0], "engine": engine,
                      "seconds": seconds, "recall": float(recall),
                      "same_class": float(np.mean(y[found] == y[:, None])),
                      "torch_threads": torch.get_num_threads()}
            print(json.dumps(record), flush=True)
            records.append(record)
    meta = {"skdeepcluster": skdeepcluster.__version__, "torch": torch.__version__,
            "machine": platform.processor() or platform.machine()}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "neighbors.json").write_text(
        json.dumps({"meta": meta, "records": records}, indent=1) + "\n")
    lines = ["# Neighbour search: time, recall of the exact lists, same class", "",
             f"{K} neighbours per row, in the fit's PCA space; "
             f"`python benchmarks/bench_neighbors.py`; {meta}.", "",
             "| data | rows | engine | seconds | recall | same class |",
             "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['dataset']} | {r['n_samples']:,} | {r['engine']} | "
              f"{r['seconds']:.1f} | {r['recall']:.3f} | {r['same_class']:.3f} |"
              for r in records]
    (RESULTS / "neighbors.md").write_text("\n".join(lines) + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", default="mnist,fashion-mnist")
    p.add_argument("--data-home", default=str(HERE.parent.parent / "shared" /
                                             "datasets"))
    run(p.parse_args())


if __name__ == "__main__":
    main()
