"""The data a command clusters: .npy, .npz, .csv and .tsv files, or a data set.

Positions in messages are counted as a person counts the lines of a file:
from 1, and the header line of a CSV file counts ("row 3" of a file with a
header is its second data row). Columns are counted from 1 too.
"""

import csv
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

from ..datasets import load_fashion_mnist, load_mnist
from ._messages import InputError, one_line

DATASETS = ("digits", "mnist", "fashion-mnist")
SUFFIXES = (".npy", ".npz", ".csv", ".tsv")


def _array_cell(sample, feature):
    return f"row {sample + 1}, column {feature + 1}"


@dataclass
class Data:
    """A data set to cluster: features, optional labels and a description.

    ``locate(sample, feature)`` says where ``X[sample, feature]`` came from,
    1-based: a row and column of the file for CSV input, of the array
    otherwise.
    """

    X: np.ndarray
    y: np.ndarray | None
    name: str
    image_shape: tuple | None = None
    notes: list = field(default_factory=list)
    locate: object = _array_cell


# ---------------------------------------------------------------------------
# .npy and .npz
# ---------------------------------------------------------------------------


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
        raise InputError(f"cannot read {path}: {one_line(exc)}") from exc
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read {path}: {one_line(exc)}") from exc
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


# ---------------------------------------------------------------------------
# .csv and .tsv
# ---------------------------------------------------------------------------


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass
class _Table:
    """The layout of a delimited file, to read it and to point into it."""

    path: Path
    delimiter: str
    header: bool
    names: list | None
    n_columns: int
    feature_columns: list

    def column(self, index):
        """'column 3' (1-based), with its header name when there is one."""
        text = f"column {index + 1}"
        return f"{text} ({self.names[index]})" if self.names else text

    def rows(self):
        """(line number, fields) of each data row, as np.loadtxt reads them:
        after the header, without blank lines and '#' comments."""
        with open(self.path, newline="", encoding="utf-8-sig") as file:
            for number, line in enumerate(file, start=1):
                content = line.split("#", 1)[0].rstrip("\r\n")
                if number <= self.header or not content.strip():
                    continue
                yield number, next(csv.reader([content], delimiter=self.delimiter))

    def locate(self, sample, feature):
        """Where ``X[sample, feature]`` is in the file."""
        for index, (number, _) in enumerate(self.rows()):
            if index == sample:
                return f"row {number}, {self.column(self.feature_columns[feature])}"
        return _array_cell(sample, feature)  # not reached for a file just read

    def first_problem(self):
        """What np.loadtxt could not read: the first bad cell or row, or None."""
        for number, fields in self.rows():
            if len(fields) != self.n_columns:
                return (f"row {number} has {len(fields)} fields, but the first "
                        f"row has {self.n_columns}")
            for index in self.feature_columns:
                text = fields[index]
                where = f"row {number}, {self.column(index)}"
                if not text.strip():
                    return f"{where} is empty (a missing value?)"
                if not _is_number(text):
                    return f"{where} holds {text.strip()!r}, not a number"
        return None


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
    if index == 0 or not -n_columns <= index <= n_columns:
        raise InputError(
            f"--label-column {index} is out of range: {path} has {n_columns} "
            f"columns, numbered 1 to {n_columns} (or -{n_columns} to -1 from the "
            "last)"
        )
    return index - 1 if index > 0 else index % n_columns


def _read_csv(path, label_column, header, delimiter):
    """Data from a delimited text file; y is None without ``label_column``."""
    if delimiter is None:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        with open(path, newline="", encoding="utf-8-sig") as file:
            first = next(csv.reader(file, delimiter=delimiter), None)
    except UnicodeDecodeError:
        raise InputError(f"cannot read {path}: it is not a text file") from None
    except (OSError, csv.Error) as exc:
        raise InputError(f"cannot read {path}: {one_line(exc)}") from exc
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
    table = _Table(path, delimiter, bool(header), names, n_columns, feature_cols)
    options = {"delimiter": delimiter, "skiprows": int(header), "ndmin": 2,
               "encoding": "utf-8-sig", "quotechar": '"'}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "no data" -> checked later
            X = np.loadtxt(path, usecols=feature_cols, dtype=np.float64, **options)
            y = None
            if y_col is not None:
                y = np.loadtxt(path, usecols=[y_col], dtype=str, **options)[:, 0]
    except ValueError as exc:
        try:
            problem = table.first_problem()
        except (OSError, UnicodeDecodeError, csv.Error):
            problem = None
        if problem is None:  # numpy's own words, less its advice on usecols
            problem = one_line(exc).split("; use `usecols`")[0].rstrip(".")
        raise InputError(f"{path} is not numeric data: {problem}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {one_line(exc)}") from exc
    if y is not None and all(_is_number(v) for v in np.unique(y)):
        numeric = y.astype(np.float64)
        y = numeric.astype(np.int64) if np.all(numeric == np.round(numeric)) else y
    data = _check_arrays(X, y, path)
    data.locate = table.locate
    return data


# ---------------------------------------------------------------------------
# Files and data sets
# ---------------------------------------------------------------------------


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


def read_data_file(path, *, label_column=None, header=None, delimiter=None):
    """The :class:`Data` of a .npy, .npz, .csv or .tsv file."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a data file")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(
            f"{path}: unsupported file type {suffix or '(none)'!r}; use "
            f"{', '.join(SUFFIXES)}"
        )
    if label_column is not None and suffix not in (".csv", ".tsv"):
        raise InputError("--label-column applies to .csv and .tsv files only; "
                         "put labels in an .npz file as 'y'")
    if suffix in (".csv", ".tsv"):
        return _read_csv(path, label_column, header, delimiter)
    return _check_arrays(*_read_array_file(path), path)


def load_dataset(name, *, data_home=None, split="all", download=False):
    """The :class:`Data` of a named data set: digits, mnist or fashion-mnist."""
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        return Data(X=X, y=y, name="digits", image_shape=(8, 8))
    loader = load_mnist if name == "mnist" else load_fashion_mnist
    try:
        X, y = loader(data_home, subset=split, return_X_y=True, download=download)
    except (OSError, ValueError) as exc:
        source = "" if data_home is None else f" from --data-home {data_home}"
        raise InputError(f"cannot load {name}{source}: {one_line(exc)}") from exc
    title = name if split == "all" else f"{name} ({split})"
    return Data(X=X, y=y, name=title, image_shape=(28, 28))


def load_data(args):
    """The :class:`Data` the command's arguments name, subsampled and checked."""
    if args.data_file is not None and args.dataset is not None:
        raise InputError("give either DATA_FILE or --dataset, not both")
    if args.dataset in (None, "digits") and (args.data_home or args.download):
        raise InputError("--data-home and --download apply to --dataset mnist "
                         "and fashion-mnist only")
    if args.data_file is not None:
        data = read_data_file(args.data_file, label_column=args.label_column,
                              header=args.header, delimiter=args.delimiter)
    else:
        data = load_dataset(args.dataset or "digits", data_home=args.data_home,
                            split=args.split, download=args.download)
    n_samples = data.X.shape[0]
    rows = np.arange(n_samples)  # the sample of the input behind each row of X
    if args.subset is not None and args.subset < n_samples:
        rng = np.random.RandomState(args.random_state)
        rows = np.sort(rng.choice(n_samples, args.subset, replace=False))
        data.X = data.X[rows]
        data.y = None if data.y is None else data.y[rows]
        data.notes.append(f"random subset of {args.subset} of {n_samples} samples")
    bad = ~np.isfinite(data.X)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        count = int(bad.sum())
        raise InputError(
            f"{data.name}: X holds {count} missing or infinite "
            f"value{'s' if count > 1 else ''} (the first at "
            f"{data.locate(int(rows[row]), int(col))})"
        )
    return data
