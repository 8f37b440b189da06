"""``skdeepcluster compare``: fit the methods, score them, show and save the results.

The table and the names of the files written go to stdout; progress, warnings
and errors go to stderr.
"""

import contextlib
import csv
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np

from .. import DeepEntropyClustering
from ..metrics import cluster_balance, clustering_report
from ._figure import draw_figure
from ._io import load_data
from ._messages import PROG, FitError, InputError, one_line
from ._methods import make_estimators


def resolve_n_clusters(args, data):
    """``--n-clusters``, else the number of distinct labels; checked."""
    n_samples = data.X.shape[0]
    if args.n_clusters is not None:
        n_clusters = args.n_clusters
    elif data.y is not None:
        n_clusters = len(np.unique(data.y))
    else:
        raise InputError(f"{data.name} has no labels: give --n-clusters")
    if n_samples < max(2, n_clusters):
        wanted = (f"--n-clusters {n_clusters}" if args.n_clusters is not None
                  else f"its {n_clusters} classes")
        raise InputError(
            f"too few samples: {data.name} has {n_samples}, need at least "
            f"{max(2, n_clusters)} for {wanted}"
        )
    return n_clusters


@dataclass
class Result:
    """What one method produced."""

    estimator: object
    labels: np.ndarray
    fit_time: float
    warnings: list


def _seconds(seconds):
    return f"{seconds:.2f} s" if seconds < 1 else f"{seconds:.1f} s"


def fit_all(estimators, X, *, stream, progress=True):
    """Fit every estimator on X; return ``{name: Result}``.

    With ``progress``, a line on ``stream`` tells when each fit starts and how
    long it took. An estimator's own output (the deep model's epochs with
    ``verbose=1``) also goes to ``stream``, never to stdout.
    """
    results = {}
    for number, (name, estimator) in enumerate(estimators.items(), start=1):
        talks = progress and getattr(estimator, "verbose", 0) > 0
        if progress:
            print(f"fitting {name} ({number} of {len(estimators)})...",
                  end="\n" if talks else "", file=stream, flush=True)
        with warnings.catch_warnings(record=True) as caught, \
                contextlib.redirect_stdout(stream):
            warnings.simplefilter("always")
            start = time.perf_counter()
            try:
                labels = estimator.fit_predict(X)
            except (ValueError, RuntimeError, FloatingPointError, MemoryError) as exc:
                if progress:
                    print(f"{name} failed" if talks else " failed", file=stream)
                raise FitError(f"{name} failed: {one_line(exc)}") from exc
            except KeyboardInterrupt:
                if progress and not talks:
                    print(file=stream)  # end the line before "interrupted"
                raise
            elapsed = time.perf_counter() - start
        if progress:
            done = f"done in {_seconds(elapsed)}"
            print(f"{name} {done}" if talks else f" {done}", file=stream,
                  flush=True)
        messages = list(dict.fromkeys(one_line(w.message) for w in caught))
        for message in messages:
            print(f"{PROG}: warning: {name}: {message}", file=stream)
        results[name] = Result(estimator, np.asarray(labels), elapsed, messages)
    return results


def score_results(results, data, n_clusters):
    """One row of scores per method, as a list of dicts."""
    rows = []
    for name, result in results.items():
        labels = result.labels
        sizes = np.bincount(labels, minlength=n_clusters)
        row = {"method": name}
        if data.y is not None:
            report = clustering_report(data.y, labels)
            row.update(ACC=report["accuracy"], NMI=report["nmi"], ARI=report["ari"])
        else:
            mi = np.nan
            if isinstance(result.estimator, DeepEntropyClustering):
                mi = result.estimator.score(data.X)
            row.update(MI=mi)
        row.update(
            clusters=int(np.count_nonzero(sizes)),
            balance=cluster_balance(labels, n_clusters=max(n_clusters, len(sizes))),
            smallest=int(sizes.min()),
            largest=int(sizes.max()),
            fit_time=result.fit_time,
        )
        rows.append(row)
    return rows


def format_table(rows):
    """The score rows as an aligned text table."""
    headers = {"method": "method", "ACC": "ACC", "NMI": "NMI", "ARI": "ARI",
               "MI": "MI (deep)", "clusters": "clusters", "balance": "balance",
               "smallest": "smallest", "largest": "largest",
               "fit_time": "fit time (s)"}
    keys = list(rows[0])

    def cell(key, value):
        if key == "method":
            return str(value)
        if isinstance(value, float):
            if np.isnan(value):
                return "-"
            digits = 2 if key == "fit_time" else 3
            return f"{round(value, digits) + 0.0:.{digits}f}"  # no "-0.000"
        return str(value)

    table = [[headers[k] for k in keys]]
    table += [[cell(k, row[k]) for k in keys] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(keys))]
    lines = []
    for line in table:
        parts = [line[0].ljust(widths[0])]
        parts += [text.rjust(width) for text, width in zip(line[1:], widths[1:])]
        lines.append("  ".join(parts))
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def write_labels(results, data, output_dir, labels_format):
    """Write one column of labels per method (and the true labels); return path."""
    columns = {name: result.labels for name, result in results.items()}
    if data.y is not None:
        columns["true_label"] = data.y
    if labels_format == "npz":
        path = output_dir / "labels.npz"
        np.savez(path, **columns)
        return path
    path = output_dir / "labels.csv"
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        writer.writerows(zip(*(col.tolist() for col in columns.values())))
    return path


def write_scores(rows, output_dir):
    """Write the table as ``scores.csv``; return its path."""
    path = output_dir / "scores.csv"
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v)
                             for k, v in row.items()})
    return path


def compare(args, stdout=None, stderr=None):
    """Run ``skdeepcluster compare``; return the exit status."""
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    data = load_data(args)
    n_clusters = resolve_n_clusters(args, data)
    estimators = make_estimators(args, data, n_clusters)
    output_dir = args.output_dir
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create --output-dir {output_dir}: "
                         f"{one_line(exc)}") from exc

    n_samples, n_features = data.X.shape
    known = (f"{len(np.unique(data.y))} classes" if data.y is not None
             else "no labels")
    print(f"{data.name}: {n_samples} samples, {n_features} features, {known}; "
          f"n_clusters={n_clusters}", file=stdout, flush=True)
    for note in data.notes:
        print(f"  ({note})", file=stdout, flush=True)
    results = fit_all(estimators, data.X, stream=stderr, progress=not args.quiet)
    rows = score_results(results, data, n_clusters)
    print(file=stdout)
    print(format_table(rows), file=stdout)
    if data.y is None:
        print("\ncluster sizes:", file=stdout)
        for name, result in results.items():
            sizes = np.bincount(result.labels, minlength=n_clusters)
            print(f"  {name}: {' '.join(map(str, sizes))}", file=stdout)
    print(file=stdout)
    written = [write_labels(results, data, output_dir, args.labels_format),
               write_scores(rows, output_dir)]
    if not args.no_plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print(f"{PROG}: note: matplotlib is not installed, so no figure was "
                  "drawn (pip install matplotlib)", file=stderr)
        else:
            written.append(draw_figure(
                {name: result.labels for name, result in results.items()}, data,
                output_dir / "comparison.png", random_state=args.random_state))
    for path in written:
        print(f"wrote {path}", file=stdout)
    return 0
