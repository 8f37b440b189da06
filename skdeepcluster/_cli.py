"""The ``skdeepcluster`` command line.

``skdeepcluster compare`` clusters one data set with DeepEntropyClustering and
scikit-learn's clusterers, prints a table of scores and fit times, and writes
the labels, the scores and a figure into an output folder.

Bad input (a missing or unreadable file, non-numeric data, a wrong shape, too
few samples, an unknown option value) ends the command with one line on
stderr, ``skdeepcluster: error: ...``, and exit status 2; no traceback.
"""

from __future__ import annotations

import argparse
import csv
import sys
import textwrap
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PROG = "skdeepcluster"

#: Clusterers ``--methods`` can name, in the order they are run and shown.
METHODS = ("deep", "kmeans", "gmm", "agglomerative", "spectral")
_DEFAULT_METHODS = ("deep", "kmeans")
_METHOD_HELP = {
    "deep": "DeepEntropyClustering (this package)",
    "kmeans": "KMeans(n_init=10)",
    "gmm": "GaussianMixture (diagonal covariances)",
    "agglomerative": "AgglomerativeClustering (Ward linkage)",
    "spectral": "SpectralClustering (10-nearest-neighbour graph)",
}
#: Methods whose memory or time grows quadratically with the number of samples.
_QUADRATIC = {"agglomerative": 20_000, "spectral": 20_000}

_DATASETS = ("digits", "mnist", "fashion-mnist")
_SUFFIXES = (".npy", ".npz", ".csv", ".tsv")
_SCATTER_POINTS = 5000  # points drawn in the PCA panels at most


class InputError(Exception):
    """Bad input: reported as one line on stderr with exit status 2."""


class FitError(Exception):
    """A clusterer failed on valid input: one line on stderr, exit status 1."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors become :class:`InputError`."""

    def error(self, message):
        raise InputError(f"{message} (see '{self.prog} --help')")


@dataclass
class Data:
    """A data set to cluster: features, optional labels and a description."""

    X: np.ndarray
    y: np.ndarray | None
    name: str
    image_shape: tuple | None = None
    notes: list = field(default_factory=list)


# ---------------------------------------------------------------------------
# Argument parsing
# ---------------------------------------------------------------------------


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _methods(text):
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    if names == ["all"]:
        return list(METHODS)
    unknown = [name for name in names if name not in METHODS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown method {', '.join(map(repr, unknown)) or repr(text)}; "
            f"choose from {', '.join(METHODS)} or 'all'"
        )
    return list(dict.fromkeys(names))  # keep order, drop repeats


def _image_shape(text):
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(","))
    except ValueError:
        shape = ()
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise argparse.ArgumentTypeError(
            f"expected HEIGHT,WIDTH or CHANNELS,HEIGHT,WIDTH, got {text!r}"
        )
    return shape


def build_parser():
    """The argument parser of the ``skdeepcluster`` command."""
    from . import __version__

    parser = _Parser(
        prog=PROG,
        description=(
            "Deep clustering by self-labeling (DeepEntropyClustering), from the "
            "command line."
        ),
        epilog=f"Run '{PROG} compare --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND",
                                     parser_class=_Parser)
    commands.required = True

    compare = commands.add_parser(
        "compare",
        help="cluster a data set with several methods and compare them",
        description=textwrap.fill(
            "Cluster a data set with DeepEntropyClustering and scikit-learn's "
            "clusterers (KMeans by default), print a table of scores and fit "
            "times, and write the labels, the scores and a figure into "
            "--output-dir. With labels (digits, MNIST, a labelled file) the "
            "table shows accuracy under the best cluster-to-class map (ACC), "
            "NMI and ARI; without them, the mutual-information score of the "
            "deep model and the cluster sizes. The data are used as given: no "
            "scaling (the deep model centres and scales its input itself).",
            width=78,
        ),
        epilog=(
            "examples:\n"
            f"  {PROG} compare                       # digits: deep vs KMeans\n"
            f"  {PROG} compare --methods all --subset 500\n"
            f"  {PROG} compare --dataset mnist --data-home ~/data --model conv\n"
            f"  {PROG} compare points.csv --label-column species\n"
            f"  {PROG} compare X.npy --n-clusters 5\n"
            "\nexit status: 0 on success, 2 on bad input (one line on stderr), 1\n"
            "when a clusterer fails."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = compare.add_argument_group("data")
    data.add_argument(
        "data_file", nargs="?", metavar="DATA_FILE", type=Path,
        help=(
            "samples to cluster, one per row: .npy (an array of shape "
            "(n_samples, n_features), or of images (n_samples, [channels,] "
            "height, width), flattened), .npz (array 'X' and optional labels "
            "'y') or .csv/.tsv (numbers; a header row is detected; see "
            "--label-column). Default: --dataset digits"
        ),
    )
    data.add_argument(
        "--dataset", choices=_DATASETS, default=None,
        help=(
            "a bundled or benchmark data set instead of DATA_FILE: "
            "scikit-learn's 8x8 digits (1797 images, default), or MNIST / "
            "Fashion-MNIST (70,000 images; see --data-home)"
        ),
    )
    data.add_argument(
        "--data-home", metavar="DIR", type=Path, default=None,
        help=(
            "folder of the MNIST / Fashion-MNIST idx files (default: "
            "$SKDEEPCLUSTER_DATA, else ~/skdeepcluster_data)"
        ),
    )
    data.add_argument(
        "--split", choices=("train", "test", "all"), default="all",
        help="MNIST / Fashion-MNIST images to use (default: all 70,000)",
    )
    data.add_argument(
        "--download", action="store_true",
        help="download missing MNIST / Fashion-MNIST files into --data-home",
    )
    data.add_argument(
        "--label-column", metavar="NAME", default=None,
        help=(
            "CSV column that holds the true labels (a header name, or a "
            "0-based index, negative from the end); it is not clustered"
        ),
    )
    data.add_argument(
        "--header", action=argparse.BooleanOptionalAction, default=None,
        help=(
            "whether the CSV's first row holds column names (default: yes when "
            "it has a non-numeric field)"
        ),
    )
    data.add_argument(
        "--delimiter", default=None, metavar="CHAR",
        help="CSV field separator (default: ',' for .csv, tab for .tsv)",
    )
    data.add_argument(
        "--subset", type=_positive_int, metavar="N", default=None,
        help="cluster a random subset of N samples (drawn with --random-state)",
    )

    methods = compare.add_argument_group("clustering")
    methods.add_argument(
        "--methods", type=_methods, default=list(_DEFAULT_METHODS),
        metavar="LIST",
        help=(
            "comma-separated clusterers to run, or 'all' (default: "
            f"{','.join(_DEFAULT_METHODS)}); "
            + "; ".join(f"{name}: {text}" for name, text in _METHOD_HELP.items())
        ),
    )
    methods.add_argument(
        "--n-clusters", type=_positive_int, metavar="K", default=None,
        help=(
            "number of clusters (default: the number of distinct labels; "
            "required for data without labels)"
        ),
    )
    methods.add_argument(
        "--random-state", type=int, default=0, metavar="SEED",
        help="seed of every method and of --subset (default: 0)",
    )

    deep = compare.add_argument_group("deep model (DeepEntropyClustering)")
    deep.add_argument(
        "--max-iter", type=_positive_int, metavar="EPOCHS", default=None,
        help="maximum number of training epochs (default: the estimator's)",
    )
    deep.add_argument(
        "--model", choices=("mlp", "conv", "linear"), default="mlp",
        help=(
            "network: a multi-layer perceptron, a small ConvNet for images "
            "(see --image-shape) or a linear softmax (default: mlp)"
        ),
    )
    deep.add_argument(
        "--image-shape", type=_image_shape, metavar="SHAPE", default=None,
        help=(
            "HEIGHT,WIDTH or CHANNELS,HEIGHT,WIDTH of the images, for --model "
            "conv and --augment affine (default: known for the data sets and "
            "image arrays, else square)"
        ),
    )
    deep.add_argument(
        "--augment", choices=("affine", "noise"), default=None,
        help="random perturbation of the training views (default: none)",
    )
    deep.add_argument(
        "--device", default="auto",
        help="torch device: auto (CUDA when available), cpu, cuda, cuda:1, ...",
    )

    output = compare.add_argument_group("output")
    output.add_argument(
        "--output-dir", type=Path, default=Path("skdeepcluster_output"),
        metavar="DIR",
        help="folder for labels, scores and figure (default: ./skdeepcluster_output)",
    )
    output.add_argument(
        "--format", choices=("csv", "npz"), default="csv", dest="labels_format",
        help="file format of the labels, one column per method (default: csv)",
    )
    output.add_argument(
        "--no-plot", action="store_true",
        help="do not draw the figure (it needs matplotlib)",
    )
    output.add_argument(
        "-v", "--verbose", action="count", default=0,
        help="report progress; -v also shows the deep model's epochs",
    )
    compare.set_defaults(handler=compare_command)
    return parser


# ---------------------------------------------------------------------------
# Loading data
# ---------------------------------------------------------------------------


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


def _read_array_file(path):
    """(X, y) from a .npy or .npz file."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise InputError(
                f"cannot read {path}: not a NumPy file of numbers (corrupt, or "
                "it holds Python objects)"
            ) from exc
        raise InputError(f"cannot read {path}: {_one_line(exc)}") from exc
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read {path}: {_one_line(exc)}") from exc
    if isinstance(loaded, np.ndarray):
        return loaded, None
    with loaded:
        keys = list(loaded.files)
        if "X" not in keys:
            raise InputError(
                f"{path} has no array named 'X' (it holds: "
                f"{', '.join(keys) or 'nothing'}); save it with "
                "np.savez(path, X=X, y=y)"
            )
        try:
            X = loaded["X"]
            y = loaded["y"] if "y" in keys else None
        except ValueError as exc:
            raise InputError(
                f"cannot read {path}: it holds Python objects, not numeric arrays"
            ) from exc
    return X, y


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _label_index(label_column, names, n_columns, path):
    if names is not None and label_column in names:
        return names.index(label_column)
    try:
        index = int(label_column)
    except ValueError:
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        where = f"columns: {shown}" if names else "no header row"
        raise InputError(
            f"--label-column {label_column!r} is not a column of {path} ({where})"
        ) from None
    if not -n_columns <= index < n_columns:
        raise InputError(
            f"--label-column {index} is out of range: {path} has {n_columns} columns"
        )
    return index % n_columns


def _read_csv(path, label_column, header, delimiter):
    """(X, y) from a delimited text file; y is None without ``label_column``."""
    if delimiter is None:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        with open(path, newline="", encoding="utf-8-sig") as file:
            first = next(csv.reader(file, delimiter=delimiter), None)
    except UnicodeDecodeError:
        raise InputError(f"cannot read {path}: it is not a text file") from None
    except (OSError, csv.Error) as exc:
        raise InputError(f"cannot read {path}: {_one_line(exc)}") from exc
    if not first:
        raise InputError(f"{path} is empty")
    fields = [f.strip() for f in first]
    if header is None:
        header = not all(_is_number(f) for f in fields if f)
    names = fields if header else None
    n_columns = len(fields)
    y_col = (None if label_column is None
             else _label_index(label_column, names, n_columns, path))
    feature_cols = [c for c in range(n_columns) if c != y_col]
    if not feature_cols:
        raise InputError(f"{path} has no feature column besides the labels")
    options = {"delimiter": delimiter, "skiprows": int(header), "ndmin": 2,
               "encoding": "utf-8-sig", "quotechar": '"'}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "no data" -> checked below
            X = np.loadtxt(path, usecols=feature_cols, dtype=np.float64, **options)
            y = None
            if y_col is not None:
                y = np.loadtxt(path, usecols=[y_col], dtype=str, **options)[:, 0]
    except ValueError as exc:
        message = _one_line(exc).split("; use `usecols`")[0].rstrip(".")
        raise InputError(f"{path} is not numeric data: {message}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {_one_line(exc)}") from exc
    if y is not None and all(_is_number(v) for v in np.unique(y)):
        numeric = y.astype(np.float64)
        y = numeric.astype(np.int64) if np.all(numeric == np.round(numeric)) else y
    return X, y


def _read_file(args):
    path = args.data_file
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a data file")
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        raise InputError(
            f"{path}: unsupported file type {suffix or '(none)'!r}; use "
            f"{', '.join(_SUFFIXES)}"
        )
    if args.label_column is not None and suffix not in (".csv", ".tsv"):
        raise InputError("--label-column applies to .csv and .tsv files only; "
                         "put labels in an .npz file as 'y'")
    if suffix in (".csv", ".tsv"):
        X, y = _read_csv(path, args.label_column, args.header, args.delimiter)
    else:
        X, y = _read_array_file(path)
    return _check_arrays(X, y, path)


def _check_arrays(X, y, path):
    """Validate shapes and dtypes; flatten image arrays."""
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise InputError(
            f"{path}: X must be numeric, got an array of dtype {X.dtype}"
        )
    image_shape = None
    if X.ndim in (3, 4):
        image_shape = X.shape[1:]
        X = X.reshape(X.shape[0], -1)
    elif X.ndim != 2:
        raise InputError(
            f"{path}: X must have shape (n_samples, n_features), or "
            f"(n_samples, [channels,] height, width) for images; got shape "
            f"{X.shape}"
            + (" (use X.reshape(-1, 1) for a single feature)" if X.ndim == 1 else "")
        )
    if X.shape[1] == 0:
        raise InputError(f"{path}: X has no features (shape {X.shape})")
    if y is not None:
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != X.shape[0]:
            raise InputError(
                f"{path}: y must have shape ({X.shape[0]},) to match X, got "
                f"shape {y.shape}"
            )
    return Data(X=X, y=y, name=Path(path).name, image_shape=image_shape)


def _load_dataset(args):
    name = args.dataset or "digits"
    if name == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        return Data(X=X, y=y, name="digits", image_shape=(8, 8))
    from .datasets import load_fashion_mnist, load_mnist

    loader = load_mnist if name == "mnist" else load_fashion_mnist
    try:
        X, y = loader(args.data_home, subset=args.split, return_X_y=True,
                      download=args.download)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot load {name}: {_one_line(exc)}") from exc
    title = name if args.split == "all" else f"{name} ({args.split})"
    return Data(X=X, y=y, name=title, image_shape=(28, 28))


def load_data(args):
    """The :class:`Data` the arguments name, subsampled and checked."""
    if args.data_file is not None and args.dataset is not None:
        raise InputError("give either DATA_FILE or --dataset, not both")
    if args.dataset in (None, "digits") and (args.data_home or args.download):
        raise InputError("--data-home and --download apply to --dataset mnist "
                         "and fashion-mnist only")
    data = _read_file(args) if args.data_file is not None else _load_dataset(args)
    n_samples = data.X.shape[0]
    if args.subset is not None and args.subset < n_samples:
        rng = np.random.RandomState(args.random_state)
        keep = np.sort(rng.choice(n_samples, args.subset, replace=False))
        data.X = data.X[keep]
        data.y = None if data.y is None else data.y[keep]
        data.notes.append(f"random subset of {args.subset} of {n_samples} samples")
    bad = ~np.isfinite(data.X)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise InputError(
            f"{data.name}: X holds {int(bad.sum())} missing or infinite values "
            f"(the first at row {row}, column {col})"
        )
    return data


# ---------------------------------------------------------------------------
# Clustering
# ---------------------------------------------------------------------------


def _resolve_n_clusters(args, data):
    n_samples = data.X.shape[0]
    if args.n_clusters is not None:
        n_clusters = args.n_clusters
    elif data.y is not None:
        n_clusters = len(np.unique(data.y))
    else:
        raise InputError(f"{data.name} has no labels: give --n-clusters")
    if n_samples < max(2, n_clusters):
        raise InputError(
            f"too few samples: {data.name} has {n_samples}, need at least "
            f"{max(2, n_clusters)} for n_clusters={n_clusters}"
        )
    return n_clusters


def _check_device(device):
    import torch

    if device == "auto":
        return
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError):
        raise InputError(f"--device {device!r} is not a torch device; use auto, "
                         "cpu, cuda or cuda:N") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {device}: torch finds no CUDA GPU here; use "
                         "--device cpu or auto")


def make_estimators(methods, n_clusters, args, data):
    """The estimators to compare, by method name (not fitted)."""
    from sklearn.cluster import AgglomerativeClustering, KMeans, SpectralClustering
    from sklearn.mixture import GaussianMixture

    from . import DeepEntropyClustering

    seed = args.random_state
    n_samples = data.X.shape[0]
    for name in methods:
        limit = _QUADRATIC.get(name)
        if limit is not None and n_samples > limit:
            raise InputError(
                f"--methods {name} needs memory or time quadratic in the number "
                f"of samples ({n_samples}); add --subset {limit} or fewer"
            )
    image_shape = args.image_shape or data.image_shape
    if args.model == "conv" or args.augment == "affine":
        from ._networks import resolve_image_shape

        try:
            resolve_image_shape(image_shape, data.X.shape[1])
        except ValueError as exc:
            option = "--model conv" if args.model == "conv" else "--augment affine"
            raise InputError(
                f"{option} needs images: {_one_line(exc)} (see --image-shape)"
            ) from exc
    else:
        image_shape = None
    if "deep" in methods:
        _check_device(args.device)
    deep_params = {"random_state": seed, "model": args.model, "device": args.device,
                   "image_shape": image_shape, "augment": args.augment,
                   "verbose": int(args.verbose >= 1)}
    if args.max_iter is not None:
        deep_params["max_iter"] = args.max_iter
    factories = {
        "deep": lambda: DeepEntropyClustering(n_clusters, **deep_params),
        "kmeans": lambda: KMeans(n_clusters, n_init=10, random_state=seed),
        "gmm": lambda: GaussianMixture(n_clusters, covariance_type="diag",
                                       random_state=seed),
        "agglomerative": lambda: AgglomerativeClustering(n_clusters, linkage="ward"),
        "spectral": lambda: SpectralClustering(
            n_clusters, affinity="nearest_neighbors", n_neighbors=10,
            assign_labels="cluster_qr", random_state=seed),
    }
    return {name: factories[name]() for name in methods}


@dataclass
class Result:
    """What one method produced."""

    estimator: object
    labels: np.ndarray
    fit_time: float
    warnings: list


def run_methods(estimators, X, verbose=0, stream=None):
    """Fit every estimator on X; return ``{name: Result}``."""
    stream = sys.stderr if stream is None else stream
    results = {}
    for name, estimator in estimators.items():
        if verbose:
            print(f"{PROG}: fitting {name} ...", file=stream, flush=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            start = time.perf_counter()
            try:
                labels = estimator.fit_predict(X)
            except (ValueError, RuntimeError, FloatingPointError, MemoryError) as exc:
                raise FitError(f"{name} failed: {_one_line(exc)}") from exc
            elapsed = time.perf_counter() - start
        messages = list(dict.fromkeys(_one_line(w.message) for w in caught))
        results[name] = Result(estimator, np.asarray(labels), elapsed, messages)
    return results


# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------


def score_results(results, data, n_clusters):
    """One row of scores per method, as a list of dicts."""
    from .metrics import cluster_balance, clustering_report

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
            if name == "deep":
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
    path = output_dir / "scores.csv"
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v)
                             for k, v in row.items()})
    return path


def _colour_codes(labels, labels_true):
    """Colour index of each point: a cluster takes the colour of its matched class.

    Without true labels, clusters are numbered in sorted order. Clusters left
    unmatched by the Hungarian map get the colours after the classes'.
    """
    from scipy.optimize import linear_sum_assignment
    from sklearn.metrics.cluster import contingency_matrix

    clusters, codes = np.unique(labels, return_inverse=True)
    if labels_true is None:
        return codes
    counts = contingency_matrix(labels_true, labels)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    colour = np.empty(len(clusters), dtype=np.int64)
    colour[cols] = rows
    unmatched = np.setdiff1d(np.arange(len(clusters)), cols)
    colour[unmatched] = counts.shape[0] + np.arange(len(unmatched))
    return colour[codes]


def draw_figure(results, data, n_clusters, path, random_state=0):
    """Save the comparison figure: PCA scatter per method, confusion or sizes."""
    from matplotlib.figure import Figure
    from sklearn.decomposition import PCA

    from .plotting import plot_cluster_sizes, plot_confusion

    X = data.X
    rng = np.random.RandomState(random_state)
    shown = np.arange(X.shape[0])
    if X.shape[0] > _SCATTER_POINTS:
        shown = np.sort(rng.choice(X.shape[0], _SCATTER_POINTS, replace=False))
    if X.shape[1] >= 2:
        xy = PCA(n_components=2, random_state=random_state).fit_transform(X)[shown]
    else:
        xy = np.column_stack([X[shown, 0], np.zeros(len(shown))])
    panels = [(name, r.labels) for name, r in results.items()]
    if data.y is not None:
        panels.insert(0, ("true labels", data.y))
    n_cols = len(panels)
    fig = Figure(figsize=(3.4 * n_cols, 6.6), layout="constrained")
    axes = fig.subplots(2, n_cols, squeeze=False)
    for col, (title, labels) in enumerate(panels):
        codes = _colour_codes(labels, data.y)
        top = axes[0, col]
        n_colors = 10 if codes.max() < 10 else 20
        top.scatter(xy[:, 0], xy[:, 1], c=codes[shown] % n_colors,
                    cmap=f"tab{n_colors}", vmin=0, vmax=n_colors - 1, s=4,
                    linewidths=0)
        top.set_title(title)
        top.set_xticks([])
        top.set_yticks([])
        bottom = axes[1, col]
        if data.y is not None and title != "true labels":
            plot_confusion(data.y, labels, ax=bottom, annotate=False)
        else:
            plot_cluster_sizes(labels, ax=bottom)
    axes[0, 0].set_ylabel("PCA 2")
    fig.suptitle(f"{data.name}: {X.shape[0]} samples, first two principal "
                 "components")
    fig.savefig(path, dpi=100)
    return path


def compare_command(args, stdout=None, stderr=None):
    """Run ``skdeepcluster compare``; return the exit status."""
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    data = load_data(args)
    n_clusters = _resolve_n_clusters(args, data)
    estimators = make_estimators(args.methods, n_clusters, args, data)
    output_dir = args.output_dir
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create --output-dir {output_dir}: "
                         f"{_one_line(exc)}") from exc

    n_samples, n_features = data.X.shape
    known = (f"{len(np.unique(data.y))} classes" if data.y is not None
             else "no labels")
    print(f"{data.name}: {n_samples} samples, {n_features} features, {known}; "
          f"n_clusters={n_clusters}", file=stdout)
    for note in data.notes:
        print(f"  ({note})", file=stdout)
    results = run_methods(estimators, data.X, args.verbose, stderr)
    for name, result in results.items():
        for message in result.warnings:
            print(f"{PROG}: warning: {name}: {message}", file=stderr)
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
            written.append(draw_figure(results, data, n_clusters,
                                       output_dir / "comparison.png",
                                       args.random_state))
    for path in written:
        print(f"wrote {path}", file=stdout)
    return 0


def main(argv=None):
    """Run the ``skdeepcluster`` command with ``argv`` (default: sys.argv[1:]).

    Parameters
    ----------
    argv : list of str, default=None
        The arguments, without the program name.

    Returns
    -------
    status : int
        0 on success, 2 on bad input, 1 when a clusterer fails.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.handler(args)
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else 0
    except InputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except FitError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
