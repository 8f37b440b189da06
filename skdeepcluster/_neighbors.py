"""Nearest-neighbour lists for the neighbour-consistency term.

Computed once per fit, on the host, in blocks so that memory stays bounded:
points are shuffled into blocks of at most ``block_size`` rows and each point's
neighbours are searched within its block. For data sets up to ``block_size``
rows this is exact kNN; beyond, the cost grows linearly with n_samples.
"""

from __future__ import annotations

import numpy as np
import torch

_MAX_DIM = 50  # neighbours are searched in a PCA space of at most this many dims


def _embed(X, transform, n_components, generator, chunk=8192):
    """Project standardised rows of X onto their top principal directions."""
    n_samples, n_features = X.shape
    take = min(n_samples, 10_000)
    rows = torch.randperm(n_samples, generator=generator)[:take].sort().values.numpy()
    sample = transform(torch.from_numpy(np.asarray(X[rows], dtype=np.float32)))
    mean = sample.mean(0)
    if n_features > n_components:
        # top right-singular vectors of the centred sample
        _, _, v = torch.linalg.svd(sample - mean, full_matrices=False)
        basis = v[:n_components].T
    else:
        basis = None
    out = torch.empty((n_samples, min(n_features, n_components)), dtype=torch.float32)
    for start in range(0, n_samples, chunk):
        block = torch.from_numpy(np.asarray(X[start : start + chunk], dtype=np.float32))
        block = transform(block) - mean
        out[start : start + chunk] = block if basis is None else block @ basis
    return out


def nearest_neighbors(X, n_neighbors, transform, generator, *, block_size=20_000):
    """Indices ``(n_samples, k)`` of each row's nearest other rows.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Host array (a memmap is read in chunks, never copied whole).
    n_neighbors : int
        Neighbours per point; clipped to ``block_size - 1`` and ``n_samples - 1``.
    transform : callable
        Maps a float32 tensor batch to the network's input space.
    generator : torch.Generator
        Owns the block shuffling.
    """
    n_samples = X.shape[0]
    Z = _embed(X, transform, _MAX_DIM, generator)
    n_blocks = max(1, -(-n_samples // block_size))
    order = torch.randperm(n_samples, generator=generator) if n_blocks > 1 else None
    blocks = [torch.arange(n_samples)] if order is None else order.chunk(n_blocks)
    k = max(1, min(n_neighbors, min(len(b) for b in blocks) - 1))
    result = torch.empty((n_samples, k), dtype=torch.int64)
    for members in blocks:
        Zb = Z[members]
        sq = (Zb * Zb).sum(1)
        for start in range(0, len(members), 2048):
            q = Zb[start : start + 2048]
            d = sq[start : start + 2048, None] - 2 * q @ Zb.T + sq[None, :]
            rows = torch.arange(q.shape[0])
            d[rows, rows + start] = float("inf")  # a point is not its own neighbour
            nn_local = d.topk(k, dim=1, largest=False).indices
            result[members[start : start + 2048]] = members[nn_local]
    return result.numpy()
