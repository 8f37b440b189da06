"""Nearest-neighbour lists for the neighbour-consistency term.

Computed once per fit, on the host, in blocks so that memory stays bounded:
points are shuffled into blocks of at most ``block_size`` rows and each point's
neighbours are searched within its block. For data sets up to ``block_size``
rows this is exact kNN; beyond, the cost grows linearly with n_samples.
"""

from __future__ import annotations

import numpy as np
import torch

from ._data import host_rows

_MAX_DIM = 50  # neighbours are searched in a PCA space of at most this many dims


class _Projection:
    """Standardise rows with ``transform`` and project them on the top principal
    directions of a random sample of at most 10,000 rows."""

    def __init__(self, X, transform, n_components, generator):
        n_samples, n_features = X.shape
        take = min(n_samples, 10_000)
        rows = torch.randperm(n_samples, generator=generator)[:take].sort().values
        sample = transform(torch.from_numpy(host_rows(X, rows.numpy())))
        self.transform, self.mean = transform, sample.mean(0)
        self.basis = None
        if n_features > n_components:
            # top right-singular vectors of the centred sample
            _, _, v = torch.linalg.svd(sample - self.mean, full_matrices=False)
            self.basis = v[:n_components].T.contiguous()

    def __call__(self, rows):
        block = self.transform(torch.from_numpy(rows)) - self.mean
        return block if self.basis is None else block @ self.basis

    @property
    def width(self):
        return self.mean.shape[0] if self.basis is None else self.basis.shape[1]

    def embed(self, X, index, out, sq, chunk=4096):
        """Write the projection of rows ``index`` of X into ``out`` and its
        squared row norms into ``sq``, reading ``chunk`` rows at a time."""
        for start in range(0, len(index), chunk):
            z = self(host_rows(X, index[start : start + chunk]))
            out[start : start + chunk] = z
            sq[start : start + chunk] = (z * z).sum(1)


def nearest_neighbors(X, n_neighbors, transform, generator, *, block_size=20_000,
                      query_size=64):
    """Indices ``(n_samples, k)`` of each row's nearest other rows.

    Only one block is embedded at a time, and distances are computed for
    ``query_size`` rows at once (a 5 MB buffer: the search takes the same
    time with 64 rows as with 256, and gave the same lists on digits and
    MNIST), so the extra memory is a few MB whatever n_samples (plus the
    int32 result), and a memmap is read block by block, never copied whole.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Host array.
    n_neighbors : int
        Neighbours per point; clipped to ``block_size - 1`` and ``n_samples - 1``.
    transform : callable
        Maps a float32 tensor batch to the network's input space.
    generator : torch.Generator
        Owns the PCA sample and the block shuffling.
    """
    n_samples = X.shape[0]
    project = _Projection(X, transform, _MAX_DIM, generator)
    n_blocks = max(1, -(-n_samples // block_size))
    if n_blocks == 1:
        blocks = [np.arange(n_samples)]
    else:  # views of one permutation, each sorted when its turn comes
        order = torch.randperm(n_samples, generator=generator).numpy()
        blocks = np.array_split(order, n_blocks)
    k = max(1, min(n_neighbors, min(len(b) for b in blocks) - 1))
    index_dtype = np.int32 if n_samples < 2**31 else np.int64
    result = np.empty((n_samples, k), dtype=index_dtype)
    # The embedded block, the distances and the top-k go into buffers reused
    # across blocks and queries: fresh multi-MB tensors each time would be
    # kept by the C allocator and add to the resident memory for the rest of
    # the fit.
    width = max(len(b) for b in blocks)
    embedded = torch.empty((width, project.width), dtype=torch.float32)
    norms = torch.empty(width, dtype=torch.float32)
    dist = torch.empty(query_size * width, dtype=torch.float32)
    top_values = torch.empty((query_size, k), dtype=torch.float32)
    top_indices = torch.empty((query_size, k), dtype=torch.int64)
    for members in blocks:
        members = np.sort(members)
        Zb, sq = embedded[: len(members)], norms[: len(members)]
        project.embed(X, members, Zb, sq)
        for start in range(0, len(members), query_size):
            q = Zb[start : start + query_size]
            m = q.shape[0]
            d = dist[: m * len(members)].view(m, len(members))  # contiguous
            # ||q||² is the same along a row, so it does not change the ranking
            torch.addmm(sq[None, :], q, Zb.T, alpha=-2.0, out=d)
            rows = torch.arange(m)
            d[rows, rows + start] = float("inf")  # a point is not its own neighbour
            found = (top_values[:m], top_indices[:m])
            torch.topk(d, k, dim=1, largest=False, out=found)
            result[members[start : start + m]] = members[found[1].numpy()]
    return result
