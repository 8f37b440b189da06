"""Input scaling and host-to-device transfer of mini-batches.

Data stay in host memory (a NumPy array or memmap) and stream to the device
one mini-batch at a time, so device memory does not grow with n_samples.
"""

from __future__ import annotations

import numpy as np
import torch


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
