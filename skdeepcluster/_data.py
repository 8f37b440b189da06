"""Input scaling and the mini-batches' way to the device.

The training rows either stream from host memory (a NumPy array or memmap)
one mini-batch at a time, so that device memory does not grow with
n_samples (:class:`HostRows`), or are placed on the device once, where the
batches are then drawn and gathered (:class:`DeviceRows`); see
:func:`device_rows` for which.
"""

from __future__ import annotations

import mmap
import warnings

import numpy as np
import torch

#: On a GPU, X (as float32) and its neighbour lists are placed on the device
#: when together they take at most this share of its free memory.
DEVICE_MEMORY_SHARE = 0.25
#: On the CPU, X is used in place when it is a float32 array in memory, and
#: copied to float32 when the copy takes at most this many bytes; a memmap
#: is read batch by batch.
HOST_COPY_BYTES = 1 << 30


class InputScaler:
    """Centre features and divide by one global scale, on the device.

    A single scale (the root-mean-square of the centred data) keeps the relative
    weight of features, as K-means does, while making the network insensitive
    to the units of X (pixels in 0..255 or in 0..1 give the same fit).
    """

    def __init__(self, mean: np.ndarray, scale: float):
        self.mean = np.asarray(mean, dtype=np.float32)
        self.scale = float(scale)
        self._on = {}

    @classmethod
    def fit(cls, X, chunk=8192):
        """Statistics of X in float64, one chunk at a time (a memmap is not copied).

        Each chunk is centred on its own mean and the chunks are merged (Chan et
        al.'s pairwise update), so a large offset (1e8 + noise) does not cancel
        the variance away; squares of values in float32's range (all the
        estimator accepts) do not overflow float64. Constant data get scale
        1; a tiny scale is floored at float32's smallest normal number so the
        float32 division never divides by zero.
        """
        return cls.from_moments(*cls.moments(X, chunk))

    @staticmethod
    def moments(X, chunk=8192):
        """``(n, mean, m2)`` of X's columns: the row count, the means and
        the sums of squared deviations from them (float64), chunk by chunk."""
        n, d = X.shape
        parts = [_chunk_moments(np.asarray(X[start : start + chunk], dtype=np.float64))
                 for start in range(0, n, chunk)]
        return InputScaler.merge(parts) if parts else (0, np.zeros(d), np.zeros(d))

    @staticmethod
    def merge(parts):
        """The moments of the rows of several parts, from theirs (in order)."""
        seen, mean, m2 = 0, 0.0, 0.0
        for size, part_mean, part_m2 in parts:
            if size == 0:
                continue
            delta = part_mean - mean
            total = seen + size
            mean = mean + delta * (size / total)
            m2 = m2 + part_m2 + delta * delta * (seen * size / total)
            seen = total
        return seen, mean, m2

    @classmethod
    def from_moments(cls, n, mean, m2):
        """The scaler of data with moments ``(n, mean, m2)``."""
        var = float((m2 / n).mean())
        scale = float(np.sqrt(var)) if np.isfinite(var) and var > 0 else 1.0
        return cls(mean, max(scale, float(np.finfo(np.float32).tiny)))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        key = (x.device, x.dtype)
        if key not in self._on:
            self._on[key] = torch.as_tensor(self.mean, device=x.device, dtype=x.dtype)
        return (x - self._on[key]) / self.scale

    def __getstate__(self):
        return {"mean": self.mean, "scale": self.scale}

    def __setstate__(self, state):
        self.__init__(state["mean"], state["scale"])


def _chunk_moments(block):
    mean = block.mean(0)
    return block.shape[0], mean, ((block - mean) ** 2).sum(0)


def host_rows(X, idx) -> np.ndarray:
    """Rows ``idx`` of host array X as a C-ordered, writable float32 array.

    Copies only when needed: indexing with an array already copies, while a
    slice of a read-only memmap would otherwise reach torch as a read-only
    view.
    """
    return np.require(X[idx], dtype=np.float32, requirements=["C", "W"])


def fetch(X, idx, device) -> torch.Tensor:
    """Rows ``idx`` of host array X as a float32 tensor on ``device``."""
    return to_device(torch.from_numpy(host_rows(X, idx)), device)


def to_device(tensor, device) -> torch.Tensor:
    """A host tensor on ``device``; to a GPU through pinned memory, without
    waiting (a copy from pageable memory waits for the work queued before
    it)."""
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def batches(n_samples, batch_size, generator):
    """Shuffled index batches of near-equal size (none of size 1 unless n is 1).

    The permutation is drawn now; each batch is a sorted copy of a slice of
    it, made when the loop reaches it (not all at once: 8 MB per epoch for
    a million rows).
    """
    order = torch.randperm(n_samples, generator=generator).numpy()
    n_batches = max(1, n_samples // batch_size)
    return (np.sort(b) for b in np.array_split(order, n_batches))


class HostRows:
    """Rows of host data streamed to the device a mini-batch at a time:
    index batches are NumPy arrays, each batch is gathered on the host and
    copied over."""

    def __init__(self, X, neighbors, device):
        self.X, self.neighbors, self.device = X, neighbors, device

    def batches(self, batch_size, generator):
        return batches(self.X.shape[0], batch_size, generator)

    def take(self, idx) -> torch.Tensor:
        """Rows ``idx`` of X, float32, on the device."""
        return fetch(self.X, idx, self.device)

    def positions(self, idx) -> torch.Tensor:
        """The indices ``idx`` as an int64 tensor on the device."""
        return to_device(torch.from_numpy(np.asarray(idx, dtype=np.int64)),
                         self.device)

    def neighbor(self, idx, pick):
        """The ``pick``-th listed neighbour of each row ``idx`` (``pick`` an
        int, or one per row as a CPU tensor)."""
        if isinstance(pick, torch.Tensor):
            pick = pick.numpy()
        return self.neighbors[idx, pick]


class DeviceRows:
    """X as float32 and its neighbour lists placed on ``device`` once, for
    every run of a fit: index batches are device tensors, drawn there, and
    gathering a batch is one indexing kernel, so that an epoch need not wait
    for the device.

    The tensors are made on first use from the host arrays a run holds, and
    are not pickled (a checkpoint or a joblib task does not carry a copy of
    X); they are made again where an unpickled run next trains.
    """

    def __init__(self, device):
        self.device = device
        self._source = self._X = self._neighbors = None

    def __getstate__(self):
        return {"device": self.device}

    def __setstate__(self, state):
        self.__init__(state["device"])

    def on(self, X, neighbors) -> DeviceRows:
        """Self, holding ``X`` and ``neighbors`` on the device (copied the
        first time, or when X is not the array of the last call)."""
        if self._source is not X:
            self._X = _float32_tensor(X).to(self.device)
            self._source = X
            self._neighbors = None
        if self._neighbors is None and neighbors is not None:
            self._neighbors = torch.as_tensor(
                np.asarray(neighbors, dtype=np.int64), device=self.device)
        return self

    def batches(self, batch_size, generator):
        """:func:`batches` drawn on the device: the same batches as it
        gives from the same CPU generator (each sorted)."""
        n_samples = self._X.shape[0]
        order = torch.randperm(n_samples, generator=generator,
                               device=generator.device).to(self.device)
        n_batches = max(1, n_samples // batch_size)
        return (part.sort().values
                for part in torch.tensor_split(order, n_batches))

    def take(self, idx) -> torch.Tensor:
        return self._X.index_select(0, idx)

    def positions(self, idx) -> torch.Tensor:
        return idx

    def neighbor(self, idx, pick):
        if isinstance(pick, torch.Tensor):
            pick = pick.to(self.device)
        return self._neighbors[idx, pick]


def device_rows(X, neighbors, device) -> DeviceRows | None:
    """Whether a fit on X places its rows on ``device`` (then the
    :class:`DeviceRows` its runs share) or streams them (None).

    On a GPU the rows go to the device when X as float32 and the neighbour
    lists take at most ``DEVICE_MEMORY_SHARE`` of its free memory. On the
    CPU an in-memory X is used in place when it is float32 and C-ordered,
    else copied to float32 if that takes at most ``HOST_COPY_BYTES``; a
    memmap streams, as it does on every device.
    """
    if _is_mapped(X):
        return None
    n_rows, n_features = X.shape
    need = 4 * n_rows * n_features
    if device.type == "cpu":
        in_place = X.dtype == np.float32 and X.flags.c_contiguous
        return DeviceRows(device) if in_place or need <= HOST_COPY_BYTES else None
    if neighbors is not None:
        need += 8 * neighbors.size
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
    else:  # another accelerator: only what is known to fit
        return None
    return DeviceRows(device) if need <= DEVICE_MEMORY_SHARE * free else None


def _is_mapped(X) -> bool:
    """Whether X is a memmap or a view of one (validation may return a
    plain ndarray over the memmap's memory)."""
    while X is not None:
        if isinstance(X, (np.memmap, mmap.mmap)):
            return True
        X = getattr(X, "base", None)
    return False


def _float32_tensor(X) -> torch.Tensor:
    """X as a float32 CPU tensor: a view of a float32 C-ordered array (a
    read-only one too: it is only read), else a float32 copy."""
    X = np.asarray(X)
    if X.dtype == np.float32 and X.flags.c_contiguous:
        with warnings.catch_warnings():  # torch warns of read-only arrays
            warnings.simplefilter("ignore", UserWarning)
            return torch.from_numpy(X)
    return torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
