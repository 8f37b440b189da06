"""One process of a data-parallel fit, for tests/test_distributed.py.

Run under torchrun (or with RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT
set): ``python distributed_script.py OUT_DIR CASE``. Each process fits on its
share of the rows of :func:`data` and pickles what it got to
``OUT_DIR/rank<k>.pkl``. CASE "fit" is the comparison with one process,
"tiny-batches" a fit into subclusters whose global batches often hold no row
of a process,
"die" a fit in which process 1 exits part-way, "resumable" a fit that
writes a checkpoint to ``OUT_DIR/fit.ckpt`` (and resumes from it) and
"uninterrupted" the same fit without one.
"""

import os
import pickle
import sys

import numpy as np
import torch
from sklearn.datasets import make_blobs

from skdeepcluster import DeepEntropyClustering

#: The fit compared with one process: two restarts of two heads, screened,
#: neighbours.
PARAMS = dict(n_clusters=4, n_init=2, n_heads=2, screen_epochs=1, max_iter=3,
              batch_size=64, n_iter_no_change=0, random_state=0)


#: The fit a checkpoint resumes: long enough to be killed part-way.
RESUMABLE = dict(n_clusters=3, n_init=2, screen_epochs=3, max_iter=24,
                 batch_size=32, n_iter_no_change=0, checkpoint_every=1,
                 random_state=0)


def data():
    X, _ = make_blobs(600, n_features=8, centers=4, random_state=0)
    return X.astype(np.float32)


def shards(n_rows, world):
    """Each process's rows: contiguous parts of near-equal size, in rank order."""
    return np.array_split(np.arange(n_rows), world)


class ExitAfter:
    """An augmenter that ends process 1 at its ``calls``-th batch."""

    def __init__(self, calls):
        self.calls = calls

    def __call__(self, x, generator):
        self.calls -= 1
        if self.calls == 0 and os.environ["RANK"] == "1":
            os._exit(7)
        return x


def main(out_dir, case):
    torch.set_num_threads(1)
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    X = data()
    if case in ("resumable", "uninterrupted"):
        X = make_blobs(n_samples=300, centers=3, random_state=0)[0]
    rows = X[shards(len(X), world)[rank]]
    if case in ("resumable", "uninterrupted"):
        path = os.path.join(out_dir, "fit.ckpt") if case == "resumable" else None
        model = DeepEntropyClustering(distributed=True, checkpoint_path=path,
                                      **RESUMABLE).fit(rows)
    elif case == "fit":
        model = DeepEntropyClustering(distributed=True, **PARAMS).fit(rows)
    elif case == "tiny-batches":
        model = DeepEntropyClustering(4, n_subclusters=8, distributed=True,
                                      n_init=1, n_heads=2, max_iter=1,
                                      batch_size=4, random_state=0).fit(rows)
    else:
        model = DeepEntropyClustering(4, augment=ExitAfter(20), distributed=True,
                                      n_init=1, max_iter=5, batch_size=64,
                                      random_state=0).fit(rows)
    with open(os.path.join(out_dir, f"rank{rank}.pkl"), "wb") as f:
        pickle.dump(model, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
