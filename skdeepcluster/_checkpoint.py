"""Checkpoints of a fit in progress: written every few epochs, read back by a
new ``fit`` with the same parameters and data, which then continues where
the last checkpoint left off."""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import numpy as np

#: Version of the checkpoint layout; a file of another version is refused.
CHECKPOINT_FORMAT = 1
#: Rows of X hashed to recognise the data a checkpoint belongs to.
_FINGERPRINT_ROWS = 1000


def data_fingerprint(X) -> str:
    """Shape, dtype and a hash of at most 1,000 evenly spaced rows of X (a
    memmap is not read whole)."""
    every = max(1, -(-X.shape[0] // _FINGERPRINT_ROWS))
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr((X.shape, str(X.dtype))).encode())
    digest.update(np.ascontiguousarray(X[::every]).tobytes())
    return digest.hexdigest()


class Checkpoint:
    """Reads and writes the state of one fit at ``path``: an object whose
    ``runs`` (a list) and ``current`` (a run or None) hold its training runs.

    The file is written to a temporary name and then renamed over the last
    one, so a process killed while writing leaves the previous checkpoint
    intact. It is a pickle: load only checkpoints you wrote.
    """

    def __init__(self, path, key):
        self.path, self.key = Path(path), key

    def load(self, X):
        """The saved state, with X put back into its runs, or None when there
        is no checkpoint at ``path``; a ``ValueError`` when the checkpoint
        belongs to another fit (its key differs)."""
        if not self.path.exists():
            return None
        with open(self.path, "rb") as f:
            saved = pickle.load(f)
        if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(
                f"{self.path} is not a checkpoint of this skdeepcluster release "
                f"(format {CHECKPOINT_FORMAT}); remove it or set another "
                "checkpoint_path.")
        state = saved["state"]
        if saved.get("key") != self.key:
            raise ValueError(
                f"The checkpoint at {self.path} belongs to a fit with other "
                "parameters or other data; remove it to start this fit afresh, "
                "or set another checkpoint_path.")
        for run in self._runs(state):
            run.objective.X = X
        return state

    def save(self, state, X):
        """Write ``state`` (its runs without X) over the last checkpoint."""
        runs = self._runs(state)
        for run in runs:
            run.objective.X = None
        partial = self.path.with_name(self.path.name + ".partial")
        try:
            with open(partial, "wb") as f:
                pickle.dump({"format": CHECKPOINT_FORMAT, "key": self.key,
                             "state": state}, f,
                            protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(partial, self.path)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            partial.unlink(missing_ok=True)
            raise ValueError(
                "checkpoint_path needs a fit whose parts pickle: a callable "
                "model or augment must be a module-level function or class "
                f"(not a lambda or a local function); pickling failed with: {exc}"
            ) from exc
        finally:
            for run in runs:
                run.objective.X = X

    def remove(self):
        self.path.unlink(missing_ok=True)

    @staticmethod
    def _runs(state):
        return state.runs + ([state.current] if state.current is not None else [])
