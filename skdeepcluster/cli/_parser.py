"""The argument parser of the ``skdeepcluster`` command."""

import argparse
import textwrap
from pathlib import Path

from .. import __version__
from ._io import DATASETS
from ._messages import PROG, InputError
from ._methods import (
    ALL_METHODS,
    DEFAULT_METHODS,
    METHODS,
    check_image_shape,
    parse_methods,
)

DEFAULT_OUTPUT_DIR = Path("skdeepcluster_output")


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors become :class:`InputError`."""

    def error(self, message):
        raise InputError(f"{message} (see '{self.prog} --help')")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _methods_arg(text):
    try:
        return parse_methods(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _image_shape_arg(text):
    try:
        return check_image_shape(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _methods_help():
    described = "; ".join(
        f"{name} = {estimator} ({what})" for name, (estimator, what) in
        METHODS.items()
    )
    return (
        "comma-separated clusterers to run, by short name or estimator name "
        f"(any case), or 'all' ({','.join(ALL_METHODS)}); default: "
        f"{','.join(DEFAULT_METHODS)}. {described}. The umap ones need "
        "umap-learn (pip install umap-learn). Tables and files name each "
        "method by its estimator"
    )


def build_parser():
    """The argument parser of the ``skdeepcluster`` command."""
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
            "scaling (the deep model centres and scales its input itself). "
            "Progress goes to stderr, the table to stdout.",
            width=78,
        ),
        epilog=(
            "examples:\n"
            f"  {PROG} compare                       # digits: deep vs KMeans\n"
            f"  {PROG} compare --methods all --subset 500\n"
            f"  {PROG} compare --dataset mnist --data-home ~/data --model conv\n"
            f"  {PROG} compare points.csv --label-column species\n"
            f"  {PROG} compare X.npy --n-clusters 5\n"
            "\nmessages count rows and columns from 1, as the lines of a file\n"
            "(the header line of a CSV file counts).\n"
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
        "--dataset", choices=DATASETS, default=None,
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
            "CSV column that holds the true labels: a header name, or a column "
            "number counted from 1 as in every message of this command (1 is "
            "the first column, -1 the last); it is not clustered"
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
        "--methods", type=_methods_arg, default=list(DEFAULT_METHODS),
        metavar="LIST", help=_methods_help(),
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
        "--n-init", type=_positive_int, metavar="N", default=None,
        help="restarts, each with its heads; the one with the lowest objective "
        "is kept (default: the estimator's, one run)",
    )
    deep.add_argument(
        "--n-subclusters", type=_positive_int, metavar="N", default=None,
        help="train N subclusters (at least the number of clusters) and join "
        "them into the clusters on the neighbour graph, for clusters of "
        "unequal sizes (default: none)",
    )
    deep.add_argument(
        "--spectral-head", action="store_true",
        help="start the first head from the spectral clustering of the "
        "neighbour graph also on data of more than 50 features (default: "
        "the estimator's, only up to 50 or with --n-subclusters)",
    )
    deep.add_argument(
        "--model", choices=("mlp", "conv", "linear"), default="mlp",
        help=(
            "network: a multi-layer perceptron, a small ConvNet for images "
            "(see --image-shape) or a linear softmax (default: mlp)"
        ),
    )
    deep.add_argument(
        "--image-shape", type=_image_shape_arg, metavar="SHAPE", default=None,
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
    deep.add_argument(
        "--n-jobs", type=int, metavar="N", default=None,
        help="restarts trained at once, as joblib processes (-1: one per CPU; "
        "default: one at a time)",
    )

    output = compare.add_argument_group("output")
    output.add_argument(
        "--output-dir", type=Path, default=DEFAULT_OUTPUT_DIR, metavar="DIR",
        help=(
            "folder for labels, scores and figure, created if needed (default: "
            f"{DEFAULT_OUTPUT_DIR} in the current folder)"
        ),
    )
    output.add_argument(
        "--format", choices=("csv", "npz"), default="csv", dest="labels_format",
        help="file format of the labels, one column per method (default: csv)",
    )
    output.add_argument(
        "--no-plot", action="store_true",
        help="do not draw the figure (it needs matplotlib)",
    )
    talk = output.add_mutually_exclusive_group()
    talk.add_argument(
        "-v", "--verbose", action="count", default=0,
        help=(
            "show progress (the default): a line per method and the deep "
            "model's progress bar (or a line per epoch without tqdm), on stderr"
        ),
    )
    talk.add_argument(
        "-q", "--quiet", action="store_true",
        help="no progress on stderr (errors and warnings still)",
    )
    return parser
