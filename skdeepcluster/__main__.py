"""``python -m skdeepcluster``: the command line of :mod:`skdeepcluster.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
