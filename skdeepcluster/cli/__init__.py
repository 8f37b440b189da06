"""The ``skdeepcluster`` command line.

``skdeepcluster compare`` clusters one data set with DeepEntropyClustering and
the baselines of :mod:`skdeepcluster.baselines`, prints a table of scores and
fit times, and writes the labels, the scores and a figure into an output
folder.

Bad input (a missing or unreadable file, non-numeric data, a wrong shape, too
few samples, an unknown option value, an unusable device) ends the command
with one line on stderr, ``skdeepcluster: error: ...``, and exit status 2; no
traceback. A clusterer that fails on valid input ends it with exit status 1.

The rooms: ``_parser`` (the options), ``_io`` (reading the data),
``_methods`` (the estimators), ``_compare`` (fitting, scoring, tables and
files), ``_figure`` (the figure) and ``_messages`` (the errors, and the
library's parameter names turned into the command's flags).
"""

import sys

from ._compare import compare
from ._messages import PROG, FitError, InputError
from ._parser import build_parser

__all__ = ["PROG", "build_parser", "main"]

_COMMANDS = {"compare": compare}


def main(argv=None):
    """Run the ``skdeepcluster`` command with ``argv`` (default: sys.argv[1:]).

    Parameters
    ----------
    argv : list of str, default=None
        The arguments, without the program name.

    Returns
    -------
    status : int
        0 on success, 2 on bad input, 1 when a clusterer fails, 130 when
        interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return _COMMANDS[args.command](args)
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
