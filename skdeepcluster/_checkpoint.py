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
CHECKPOINT_FORMAT = 3
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
        saved = self._read()
        if saved is None:
            return None
        return self._attach(saved["state"], X)

    def save(self, state, X):
        """Write ``state`` (its runs without X) over the last checkpoint."""
        self._write({"format": CHECKPOINT_FORMAT, "key": self.key,
                     "state": self._dumps(state)})

    def remove(self):
        self.path.unlink(missing_ok=True)

    def _read(self):
        """The file's content, checked, or None when there is none."""
        if not self.path.exists():
            return None
        with open(self.path, "rb") as f:
            saved = pickle.load(f)
        if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(
                f"{self.path} is not a checkpoint of this skdeepcluster release "
                f"(format {CHECKPOINT_FORMAT}); remove it or set another "
                "checkpoint_path.")
        if saved.get("key") != self.key:
            raise ValueError(
                f"The checkpoint at {self.path} belongs to a fit with other "
                "parameters or other data; remove it to start this fit afresh, "
                "or set another checkpoint_path.")
        return saved

    def _write(self, content):
        """Write ``content`` to a temporary file, then rename it over the
        last checkpoint."""
        partial = self.path.with_name(self.path.name + ".partial")
        with open(partial, "wb") as f:
            pickle.dump(content, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, self.path)

    #: What a run's batch objective holds that a checkpoint leaves out (the
    #: caller's data, a process group), put back when the run is read.
    _detached = ("X",)

    def _dumps(self, state):
        """``state`` pickled, its runs without what :attr:`_detached` names."""
        runs = self._runs(state)
        held = [{name: getattr(run.objective, name, None) for name in self._detached}
                for run in runs]
        for run in runs:
            for name in self._detached:
                setattr(run.objective, name, None)
        try:
            return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            raise ValueError(
                "checkpoint_path needs a fit whose parts pickle: a callable "
                "model or augment must be a module-level function or class "
                f"(not a lambda or a local function); pickling failed with: {exc}"
            ) from exc
        finally:
            for run, values in zip(runs, held):
                for name, value in values.items():
                    setattr(run.objective, name, value)

    def _attach(self, blob, X, **parts):
        """The state pickled in ``blob``, with X (and ``parts``) put back into
        its runs."""
        state = pickle.loads(blob)
        for run in self._runs(state):
            run.objective.X = X
            for name, value in parts.items():
                setattr(run.objective, name, value)
        return state

    @staticmethod
    def _runs(state):
        return state.runs + ([state.current] if state.current is not None else [])


class SharedCheckpoint(Checkpoint):
    """The checkpoint of a data-parallel fit: one file, written by the first
    process, holding every process's state, of which each process reads its
    own back. Its key is every process's key (their rows differ), so it
    resumes only with the same number of processes, each on its own rows.

    ``shard`` is the fit's shard of the rows (it gathers and scatters
    objects between the processes).
    """

    _detached = ("X", "shard")

    def __init__(self, path, key, shard):
        super().__init__(path, "\n".join(shard.gather(key)))
        self.shard = shard

    def load(self, X):
        saved, error = None, None
        if self.shard.rank == 0:
            try:
                saved = self._read()
            except ValueError as exc:
                error = str(exc)
        error, found = self.shard.broadcast((error, saved is not None))
        if error is not None:
            raise ValueError(error)
        if not found:
            return None
        blob = self.shard.scatter(saved["states"] if saved else None)
        return self._attach(blob, X, shard=self.shard)

    def save(self, state, X):
        blobs = self.shard.gather_to_first(self._dumps(state))
        if self.shard.rank == 0:
            self._write({"format": CHECKPOINT_FORMAT, "key": self.key,
                         "states": blobs})

    def remove(self):
        if self.shard.rank == 0:
            super().remove()
