"""Fit on a memory-mapped array without copying it: peak memory and wall time.

Writes a 1,000,000 x 64 float32 ``np.memmap`` (256 MB = 244 MiB) in a temporary
directory (deleted afterwards), then fits
``DeepEntropyClustering(n_clusters=10, max_iter=1, random_state=0)`` on it,
opened read-only, in a fresh Python process, and records

* RSS before the fit (after the imports, opening the memmap and checking that
  ``validate_data`` keeps it, which reads every page of X, so X's pages are
  already resident) and the peak RSS (``resource.getrusage(...).ru_maxrss``);
* a 20 ms sampler of ``/proc/self/status`` splitting RSS into anonymous memory
  (copies, tensors) and file-backed pages (the memmap's pages as they are
  read), with the peak of each phase of ``fit`` (validation, input scaling,
  neighbour search, epoch loop, final inference, ...);
* whether ``validate_data`` returns a view of the memmap (no copy);
* the wall time of the fit.

Target: peak RSS below the size of X + 500 MB (500·10⁶ bytes, the stricter
reading: 721 MiB in all). Results go to
``benchmarks/results/memmap.json`` and ``memmap.md``.

Usage::

    python benchmarks/bench_memmap.py                  # the full benchmark
    python benchmarks/bench_memmap.py --n-samples 50000 --out /tmp/x  # quick try
    python benchmarks/bench_memmap.py --report-only    # re-render memmap.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MB = 2**20
N_FEATURES = 64
N_CLUSTERS = 10
TARGET_EXTRA_MB = 500


# ---------------------------------------------------------------------------
# Memory readings
# ---------------------------------------------------------------------------

def _status_kib():
    """Current RSS split (KiB) from /proc/self/status; {} where unavailable."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return {}
    keys = {"VmRSS", "RssAnon", "RssFile", "VmHWM"}
    out = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in keys:
            out[name] = int(value.split()[0])
    return out


def _maxrss_mb():
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (MB if sys.platform == "darwin" else 1024)  # bytes on macOS


class Sampler(threading.Thread):
    """Samples RSS every ``period`` seconds, keeping the peak of each phase."""

    def __init__(self, period=0.02):
        super().__init__(daemon=True)
        self.period, self.phase, self.peaks = period, "setup", {}
        self.entry_mb, self.since = 0.0, time.perf_counter()
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            self.record()
            time.sleep(self.period)

    def record(self):
        s = _status_kib()
        if not s:
            return
        rss = s["VmRSS"] / 1024
        peak = self.peaks.setdefault(
            self.phase, {"rss_mb": 0.0, "growth_mb": 0.0, "seconds": 0.0})
        peak["growth_mb"] = max(peak["growth_mb"], rss - self.entry_mb)
        if rss > peak["rss_mb"]:
            peak.update(rss_mb=rss, anon_mb=s["RssAnon"] / 1024,
                        file_mb=s["RssFile"] / 1024)

    def enter(self, phase):
        """Switch phase; return the previous one (phases nest by wrapping)."""
        self.record()  # close the previous phase with a last reading
        now = time.perf_counter()
        if self.phase in self.peaks:
            self.peaks[self.phase]["seconds"] += now - self.since
        previous, self.phase, self.since = self.phase, phase, now
        self.entry_mb = _status_kib().get("VmRSS", 0) / 1024
        self.record()
        return previous

    def stop(self):
        self._halt.set()
        self.join()
        self.record()


class PhaseWatch:
    """Marks a phase of the fit while one of the watched functions runs.

    It observes calls with ``sys.setprofile`` (the library's functions are
    not replaced): a call to a watched function's code enters its phase, the
    matching return goes back to the phase before it.
    """

    def __init__(self, sampler, watched):
        self.sampler = sampler
        self.phases = {func.__code__: phase for func, phase in watched}
        self.stack = []

    def __call__(self, frame, event, arg):
        if event not in ("call", "return"):
            return
        phase = self.phases.get(frame.f_code)
        if phase is None:
            return
        if event == "call":
            self.stack.append(self.sampler.enter(phase))
        elif self.stack:
            self.sampler.enter(self.stack.pop())

    def __enter__(self):
        sys.setprofile(self)
        return self

    def __exit__(self, *exc):
        sys.setprofile(None)


# ---------------------------------------------------------------------------
# The child process: open the memmap read-only and fit
# ---------------------------------------------------------------------------

def child(path, n_samples):
    t_start = time.perf_counter()
    import torch
    from sklearn.utils.validation import validate_data

    import skdeepcluster
    from skdeepcluster import (
        DeepEntropyClustering,
        _data,
        _inference,
        _loop,
        _neighbors,
        objectives,
    )

    rss_imports = _status_kib().get("VmRSS", 0) / 1024
    X = np.memmap(path, dtype=np.float32, mode="r", shape=(n_samples, N_FEATURES))
    model = DeepEntropyClustering(n_clusters=N_CLUSTERS, max_iter=1, random_state=0)

    # does validation keep the memmap (a view, no copy)?
    checked = validate_data(DeepEntropyClustering(), X, dtype="numeric")
    view_kept = bool(np.shares_memory(checked, X))
    del checked

    sampler = Sampler()
    watch = PhaseWatch(sampler, [
        (validate_data, "validation"),
        (_data.InputScaler.fit.__func__, "input scaler"),
        (_neighbors.nearest_neighbors, "neighbour search"),
        (_loop.train, "epoch loop"),
        (_inference.predict_labels_and_sample, "final inference"),
        (objectives.SelfLabeling.objective_value,
         "objective (y-step on all points)"),
        (DeepEntropyClustering.predict, "final predict (labels_)"),
    ])

    # reading the peak so far before fit: ru_maxrss only grows
    rss_before = _status_kib().get("VmRSS", 0) / 1024
    maxrss_before = _maxrss_mb()
    sampler.start()
    sampler.enter("fit (other)")
    t0 = time.perf_counter()
    with watch:
        model.fit(X)
    fit_s = time.perf_counter() - t0
    sampler.enter("after fit")
    sampler.stop()
    status = _status_kib()
    return {
        "n_samples": n_samples,
        "n_features": N_FEATURES,
        "x_mb": X.nbytes / MB,
        "rss_after_imports_mb": rss_imports,
        "rss_before_fit_mb": rss_before,
        "maxrss_before_fit_mb": maxrss_before,
        "peak_rss_mb": _maxrss_mb(),
        "rss_after_fit_mb": status.get("VmRSS", 0) / 1024,
        "rss_after_fit_file_mb": status.get("RssFile", 0) / 1024,
        "fit_seconds": fit_s,
        "child_seconds": time.perf_counter() - t_start,
        "validate_data_keeps_memmap": view_kept,
        "phase_peaks_mb": sampler.peaks,
        "n_iter": model.n_iter_,
        "cluster_sizes": np.bincount(model.labels_, minlength=N_CLUSTERS).tolist(),
        "estimator": {k: repr(v) for k, v in model.get_params().items()},
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "skdeepcluster": skdeepcluster.__version__,
    }


# ---------------------------------------------------------------------------
# The parent: write the data, run the child, report
# ---------------------------------------------------------------------------

def write_memmap(path, n_samples, seed=0, chunk=65_536):
    """Gaussian blobs around 10 centres, written chunk by chunk."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(N_CLUSTERS, N_FEATURES))
    X = np.memmap(path, dtype=np.float32, mode="w+", shape=(n_samples, N_FEATURES))
    for start in range(0, n_samples, chunk):
        stop = min(start + chunk, n_samples)
        labels = rng.integers(N_CLUSTERS, size=stop - start)
        X[start:stop] = centres[labels] + rng.normal(size=(stop - start, N_FEATURES))
    X.flush()
    del X


def _load_average():
    """1, 5 and 15 minute load averages (other jobs slow the fit down)."""
    if not hasattr(os, "getloadavg"):
        return None
    return [round(x, 1) for x in os.getloadavg()]


def _git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def report(result, out):
    out.mkdir(parents=True, exist_ok=True)
    (out / "memmap.json").write_text(json.dumps(result, indent=2) + "\n")
    r = result
    # "X + 500 MB" read strictly: 500·10⁶ bytes (477 MiB), not 500 MiB
    limit = r["x_mb"] + TARGET_EXTRA_MB * 1e6 / MB
    growth = r["peak_rss_mb"] - r["rss_before_fit_mb"]
    before_file = r["phase_peaks_mb"].get("setup", {}).get("file_mb", float("nan"))
    worst = max(r["phase_peaks_mb"].items(), key=lambda item: item[1]["growth_mb"])
    rows = "\n".join(
        f"| {phase} | {p['seconds']:.1f} | {p['rss_mb']:.0f} | "
        f"{p['growth_mb']:.0f} | {p.get('anon_mb', 0):.0f} | "
        f"{p.get('file_mb', 0):.0f} |"
        for phase, p in r["phase_peaks_mb"].items()
    )
    text = f"""# Fitting on a read-only memmap

`python benchmarks/bench_memmap.py` (numbers written by the script, not by hand).

- Data: {r['n_samples']:,} x {r['n_features']} float32 `np.memmap` on disk,
  opened with `mode="r"`: X = {r['x_mb']:.0f} MiB.
- Estimator: `DeepEntropyClustering(n_clusters=10, max_iter=1, random_state=0)`,
  other parameters at their defaults (listed in `memmap.json`); device: CPU.
- Machine: {r['machine']}; torch {r['torch']} ({r['torch_threads']} threads);
  skdeepcluster {r['skdeepcluster']} at commit `{r['commit']}`; {r['date']}.

| measure | value |
| --- | --- |
| RSS after imports | {r['rss_after_imports_mb']:.0f} MiB |
| RSS before fit (X's pages resident: {before_file:.0f} MiB file-backed) | \
{r['rss_before_fit_mb']:.0f} MiB |
| peak RSS (`ru_maxrss`) | {r['peak_rss_mb']:.0f} MiB |
| peak RSS - RSS before fit | {growth:.0f} MiB |
| target: X + {TARGET_EXTRA_MB} MB (10⁶ bytes) | {limit:.0f} MiB |
| peak RSS within target | {'yes' if r['peak_rss_mb'] <= limit else 'no'} |
| growth during fit within target | {'yes' if growth <= limit else 'no'} |
| `validate_data` returns a view of the memmap | \
{'yes' if r['validate_data_keeps_memmap'] else 'no (copy)'} |
| fit wall time | {r['fit_seconds']:.1f} s \
(load average before, after: {r.get('load_average_before_after', 'not recorded')}) |
| epochs run | {r['n_iter']} |

Each phase of `fit` (20 ms sampling of `/proc/self/status`): time spent in
it, its peak RSS, its largest growth over the RSS it started from, and the
split of the peak into "anon" (memory the process allocated: arrays, tensors,
any copy of X) and "file" (the memmap's pages, mapped in as they are read).
A phase entered several times (validation) sums its time and keeps its worst
growth.

| phase | seconds | peak RSS MiB | growth MiB | anon MiB | file MiB |
| --- | --- | --- | --- | --- | --- |
{rows}

The largest growth within one phase: {worst[0]} (+{worst[1]['growth_mb']:.0f} MiB).
Cluster sizes after one epoch: {r['cluster_sizes']}.
"""
    (out / "memmap.md").write_text(text)
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--report-only", action="store_true",
                        help="re-render memmap.md from the measured memmap.json")
    args = parser.parse_args(argv)
    if args.report_only:
        print(report(json.loads((args.out / "memmap.json").read_text()), args.out))
        return
    if args.child:
        print(json.dumps(child(args.child, args.n_samples)))
        return
    load_before = _load_average()
    with tempfile.TemporaryDirectory(prefix="bench_memmap_") as tmp:
        path = os.path.join(tmp, "X.f32")
        t0 = time.perf_counter()
        write_memmap(path, args.n_samples)
        write_s = time.perf_counter() - t0
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        proc = subprocess.run(
            [sys.executable, __file__, "--child", path,
             "--n-samples", str(args.n_samples)],
            capture_output=True, text=True, env=env,
        )
        if proc.returncode:
            sys.exit(f"the fit failed:\n{proc.stderr}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    result.update(
        write_seconds=write_s, commit=_git_commit(),
        date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        machine=f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
        child_stderr_tail=proc.stderr[-2000:],
        load_average_before_after=[load_before, _load_average()],
    )
    print(report(result, args.out))


if __name__ == "__main__":
    main()
