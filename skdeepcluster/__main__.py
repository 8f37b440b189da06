"""``python -m skdeepcluster``: the command line of :mod:`skdeepcluster._cli`."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
