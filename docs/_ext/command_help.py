"""``command-help``: the ``--help`` of an skdeepcluster command, as a literal block.

::

    .. command-help:: compare

The text is produced at build time by running the command line in-process,
so the page always matches the code.
"""

import contextlib
import io
import os

from docutils import nodes
from docutils.parsers.rst import Directive


class CommandHelp(Directive):
    optional_arguments = 1

    def run(self):
        from skdeepcluster.cli import PROG, main

        argv = [*self.arguments, "--help"]
        out = io.StringIO()
        columns = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = "80"  # argparse wraps to the terminal width
        try:
            with contextlib.redirect_stdout(out):
                main(argv)
        finally:
            if columns is None:
                del os.environ["COLUMNS"]
            else:
                os.environ["COLUMNS"] = columns
        text = f"$ {PROG} {' '.join(argv)}\n{out.getvalue().rstrip()}"
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return [block]


def setup(app):
    app.add_directive("command-help", CommandHelp)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
