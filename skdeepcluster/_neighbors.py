"""Nearest-neighbour lists for the neighbour-consistency term, the
normalised cut of a clustering on the graph they make, the spectral
clustering of that graph, and the joining of subclusters on it.

Computed once per fit, on the host. Rows are standardised as the network sees
them and projected on the top principal directions (at most ``MAX_DIM``) of a
random sample of at most 10,000 rows; the neighbours are searched in that
space, with one of three engines chosen by the number of rows:

- up to ``EXACT_MAX_ROWS`` rows, **exact** k nearest neighbours by
  scikit-learn's :class:`~sklearn.neighbors.NearestNeighbors` (brute force,
  in chunks of 64 MB of working memory). On MNIST's 70,000 images (50
  dimensions, 10 neighbours) this took 34 s on one CPU thread of a shared
  machine (``benchmarks/results/neighbors.md``);
- beyond, **approximate** neighbours by pynndescent's ``NNDescent`` when it
  is installed (``pip install "skdeepcluster[ann]"``): on MNIST and
  Fashion-MNIST it found 98.3% and 98.8% of the exact 10 nearest, in 10 s
  and 3 s (``benchmarks/bench_neighbors.py``). It holds the embedding of
  every row in memory (200 MB of float32 for a million rows in 50
  dimensions);
- beyond, without pynndescent, exact neighbours **within random blocks** of
  ``BLOCK_ROWS`` rows: a point's neighbours are the nearest among the rows of
  its block, so the cost grows linearly with the number of rows and memory
  stays at a few MB, but most true neighbours are missed (a recall of 0.25
  of the exact 10 nearest on MNIST or Fashion-MNIST split into 4 blocks).
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import sklearn
import torch
from sklearn.cluster import SpectralClustering
from sklearn.neighbors import NearestNeighbors

from ._data import host_rows

#: Neighbours are searched in a PCA space of at most this many dimensions.
MAX_DIM = 50
#: Up to this many rows the neighbour lists are exact.
EXACT_MAX_ROWS = 100_000
#: Block size of the search within random blocks (large data, no pynndescent).
BLOCK_ROWS = 20_000


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

    def embed(self, X, index, out, sq=None, chunk=4096):
        """Write the projection of rows ``index`` of X into ``out`` (and its
        squared row norms into ``sq``), reading ``chunk`` rows at a time."""
        for start in range(0, len(index), chunk):
            z = self(host_rows(X, index[start : start + chunk]))
            out[start : start + chunk] = z
            if sq is not None:
                sq[start : start + chunk] = (z * z).sum(1)

    def embed_all(self, X):
        """The projection of every row of X, as a float32 array."""
        out = torch.empty((X.shape[0], self.width), dtype=torch.float32)
        self.embed(X, np.arange(X.shape[0]), out)
        return out.numpy()


def nearest_neighbors(X, n_neighbors, transform, generator, *, engine="auto",
                      exact_max_rows=EXACT_MAX_ROWS, block_size=BLOCK_ROWS,
                      query_size=64):
    """Indices ``(n_samples, k)`` of each row's nearest other rows, nearest first.

    With ``engine="auto"``: exact up to ``exact_max_rows`` rows; beyond,
    approximate (pynndescent) when installed, else exact within random
    blocks of ``block_size`` rows (see the module's docstring). A row is
    never its own neighbour.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Host array (a memmap is read in chunks, never copied whole).
    n_neighbors : int
        Neighbours per point; clipped to ``n_samples - 1`` (to ``block_size -
        1`` within blocks).
    transform : callable
        Maps a float32 tensor batch to the network's input space.
    generator : torch.Generator
        Owns the PCA sample and the approximate search's seed or the block
        shuffling.
    engine : {"auto", "exact", "approximate", "blocks"}, default="auto"
        The search; "approximate" needs pynndescent.
    """
    n_samples = X.shape[0]
    project = _Projection(X, transform, MAX_DIM, generator)
    if engine == "auto":
        engine = choose_engine(n_samples, exact_max_rows)
    if engine == "exact":
        return _exact(project.embed_all(X), min(n_neighbors, n_samples - 1))
    if engine == "blocks":
        return _within_blocks(X, project, n_neighbors, generator, block_size,
                              query_size)
    import pynndescent

    seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
    return _approximate(pynndescent, project.embed_all(X), n_neighbors, seed)


def cut_counts(labels, neighbors, n_clusters):
    """What the normalised cut of ``labels`` on the neighbour graph needs,
    per cluster: the edges inside it and its volume.

    The graph joins each row to each of its listed ``neighbors`` (rows of
    an ``(n, k)`` array of row indices), made symmetric (``W = A + Aᵀ``).
    Returns two float64 arrays of length ``n_clusters``: twice the number
    of listed pairs with both ends in the cluster (``Σ_{i,j∈c} W_ij``) and
    the cluster's volume (``Σ_{i∈c} Σ_j W_ij``: ``k`` per row plus the rows
    that list it). Counts of disjoint parts of the rows add up, so a
    data-parallel fit sums them over the processes.
    """
    edges = edge_counts(labels, neighbors, n_clusters)
    return np.diag(edges).copy(), edges.sum(1)


def normalized_cut(inside, volume):
    """``Ncut = Σ_c cut(c) / vol(c)`` (Shi & Malik, 2000) from
    :func:`cut_counts`: 0 when no edge leaves a cluster, and an empty
    cluster counts as one that keeps none of its edges (1), so that a
    clustering that empties clusters is not preferred."""
    kept = np.divide(inside, volume, out=np.zeros_like(inside), where=volume > 0)
    return float(len(inside) - kept.sum())


def edge_counts(labels, neighbors, n_clusters):
    """The edges of the neighbour graph (as in :func:`cut_counts`) between
    every pair of clusters: an ``(n_clusters, n_clusters)`` float64 array
    whose entry ``a, b`` is ``Σ_{i∈a, j∈b} W_ij``, symmetric, with
    :func:`cut_counts`' ``inside`` on the diagonal and row sums its
    ``volume``. Counts of disjoint parts of the rows add up."""
    labels = np.asarray(labels)
    pairs = (np.repeat(labels, neighbors.shape[1]) * n_clusters
             + labels[neighbors.ravel()])
    listed = np.bincount(pairs, minlength=n_clusters * n_clusters)
    listed = listed.reshape(n_clusters, n_clusters).astype(np.float64)
    return listed + listed.T


def merge_clusters(edges, n_groups, affinity=None):
    """Join clusters into ``n_groups`` by single linkage on the neighbour
    graph: returns the group of each cluster, an int64 array.

    Two clusters a and b are as close as the share of graph edges joining
    them, ``W_ab / max(vol_a, vol_b)`` (``edges`` from :func:`edge_counts`),
    and the closest pairs are joined first (Kruskal's algorithm on that
    similarity) until ``n_groups`` groups remain; pairs no edge joins come
    last, in index order. Clusters without rows (no volume) take no part in
    the linkage: each joins the group of the cluster ``a`` with the largest
    ``affinity[a, b]`` (for example the mean probability the rows of a give
    to it; without ``affinity``, the first cluster's), unless fewer clusters
    than ``n_groups`` have rows: then the first of them are groups of their
    own. Groups are numbered by their first cluster."""
    n = edges.shape[0]
    volume = edges.sum(1)
    live = np.flatnonzero(volume > 0)
    empty = np.flatnonzero(volume == 0)
    bigger = np.maximum.outer(volume, volume)
    share = np.divide(edges, bigger, out=np.zeros_like(edges), where=bigger > 0)
    a, b = np.triu_indices(n, 1)
    linked = (volume[a] > 0) & (volume[b] > 0)
    a, b = a[linked], b[linked]
    order = np.argsort(-share[a, b], kind="stable")
    parent = np.arange(n)

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    groups = len(live)
    for pair in order:
        if groups <= n_groups:
            break
        ra, rb = root(a[pair]), root(b[pair])
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
            groups -= 1
    # clusters without rows: groups of their own while groups are missing,
    # then each with the cluster whose rows are nearest to it
    spare = max(0, n_groups - groups)
    for e in empty[spare:]:
        if len(live):
            near = (live[np.argmax(affinity[live, e])] if affinity is not None
                    else live[0])
            parent[e] = root(near)
    roots = np.array([root(i) for i in range(n)])
    _, first, inverse = np.unique(roots, return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[inverse].astype(np.int64)


def neighbor_graph(neighbors):
    """The symmetric graph ``W = A + Aᵀ`` of the neighbour lists (``A_ij =
    1`` when row i lists row j) as a sparse CSR matrix: the graph whose cut
    :func:`cut_counts` measures."""
    n, k = neighbors.shape
    rows = np.repeat(np.arange(n), k)
    A = sp.csr_matrix((np.ones(n * k), (rows, neighbors.ravel())), shape=(n, n))
    return (A + A.T).tocsr()


def spectral_labels(neighbors, n_clusters, seed):
    """The spectral clustering of the neighbour graph (:func:`neighbor_graph`)
    into ``n_clusters``: scikit-learn's
    :class:`~sklearn.cluster.SpectralClustering` on the precomputed graph,
    eigenvectors by LOBPCG (its cost grows about linearly with the rows:
    0.6 s on 20,000 MNIST images, where ARPACK's shift-invert mode took
    24 s), labels assigned by column-pivoted QR (Damle et al., 2019: no
    k-means and no restarts). ``seed`` owns the eigensolver's start. A graph in
    several pieces is clustered as it is (the pieces are then the first
    clusters): scikit-learn's warning about it is not shown."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Graph is not fully connected")
        return SpectralClustering(
            n_clusters, affinity="precomputed", eigen_solver="lobpcg",
            assign_labels="cluster_qr", random_state=seed,
        ).fit_predict(neighbor_graph(neighbors))


def choose_engine(n_samples, exact_max_rows=EXACT_MAX_ROWS) -> str:
    """The engine ``engine="auto"`` searches ``n_samples`` rows with."""
    if n_samples <= exact_max_rows:
        return "exact"
    return "approximate" if _has_pynndescent() else "blocks"


def _has_pynndescent():
    try:
        import pynndescent  # noqa: F401
    except ImportError:
        return False
    return True


def _index_dtype(n_samples):
    return np.int32 if n_samples < 2**31 else np.int64


def _exact(Z, k):
    """Exact k nearest other rows of Z, nearest first."""
    k = max(1, k)
    with sklearn.config_context(working_memory=64):
        found = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(Z)
        index = found.kneighbors(return_distance=False)  # excludes each row
    return index.astype(_index_dtype(Z.shape[0]))


def _approximate(pynndescent, Z, n_neighbors, seed):
    """Approximate k nearest other rows of Z by nearest-neighbour descent."""
    k = max(1, min(n_neighbors, Z.shape[0] - 1))
    search = pynndescent.NNDescent(Z, n_neighbors=k + 1, random_state=seed,
                                   n_jobs=1, compressed=True)
    index, _ = search.neighbor_graph
    if (index < 0).any():  # rows the descent left short of candidates
        raise RuntimeError(
            "pynndescent returned incomplete neighbour lists; uninstall it or "
            "fit on fewer rows to use the exact search.")
    rows = np.arange(Z.shape[0])[:, None]
    # drop each row itself (first when found, else the farthest candidate)
    is_self = index == rows
    drop = np.where(is_self.any(1), is_self.argmax(1), k)
    keep = np.ones_like(index, dtype=bool)
    keep[rows[:, 0], drop] = False
    return index[keep].reshape(Z.shape[0], k).astype(_index_dtype(Z.shape[0]))


def _within_blocks(X, project, n_neighbors, generator, block_size, query_size):
    """Exact neighbours within random blocks of at most ``block_size`` rows.

    Only one block is embedded at a time, and distances are computed for
    ``query_size`` rows at once (a 5 MB buffer), so the extra memory is a
    few MB whatever n_samples (plus the int32 result), and a memmap is read
    block by block, never copied whole.
    """
    n_samples = X.shape[0]
    n_blocks = max(1, -(-n_samples // block_size))
    # views of one permutation, each sorted when its turn comes
    order = torch.randperm(n_samples, generator=generator).numpy()
    blocks = np.array_split(order, n_blocks)
    k = max(1, min(n_neighbors, min(len(b) for b in blocks) - 1))
    result = np.empty((n_samples, k), dtype=_index_dtype(n_samples))
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
