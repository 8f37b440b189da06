"""What the command says to its user: its name, its errors, its words.

The library's messages name Python parameters (``data_home=``,
``download=True``); :func:`in_cli_terms` rewrites them with the flags of the
command line (``--data-home``, ``--download``) wherever a flag exists.
"""

import re

PROG = "skdeepcluster"


class InputError(Exception):
    """Bad input: reported as one line on stderr with exit status 2."""


class FitError(Exception):
    """A clusterer failed on valid input: one line on stderr, exit status 1."""


#: Library parameters that a command-line flag sets.
FLAGS = {
    "data_home": "--data-home",
    "download": "--download",
    "n_clusters": "--n-clusters",
    "max_iter": "--max-iter",
    "n_init": "--n-init",
    "random_state": "--random-state",
    "model": "--model",
    "image_shape": "--image-shape",
    "augment": "--augment",
    "device": "--device",
}
_SWITCHES = {"download"}  # flags without a value: download=True is --download

_NAMES = "|".join(FLAGS)
_VALUE = r"'[^']*'|\"[^\"]*\"|<[^>]*>|\([^()]*\)|[\w.:+-]*\w"
_ASSIGNMENT = re.compile(rf"(?<![\w./\\-])({_NAMES})=({_VALUE})")
_PARAMETER = re.compile(rf"\b[Tt]he '({_NAMES})' parameter of \w+")
# bare names with an underscore cannot be ordinary words ("model" can); not
# inside a path or a file name
_BARE = re.compile(
    rf"(?<![\w'\"./\\-])({'|'.join(name for name in FLAGS if '_' in name)})"
    r"(?![\w=/\\]|\.\w)"
)
_SHAPE_WORDS = re.compile(r"\(((?:channels, )?height, width)\)")


def _as_option(value):
    """A Python literal of the library's message, as typed on the command line."""
    if value[:1] in "'\"":
        return value[1:-1]
    if value.startswith("("):
        return ",".join(part.strip() for part in value[1:-1].split(",") if part)
    return value


def _assignment(match):
    name, value = match.groups()
    if name in _SWITCHES and value == "True":
        return FLAGS[name]
    return f"{FLAGS[name]} {_as_option(value)}"


def in_cli_terms(message):
    """``message`` with the library's parameter names replaced by CLI flags.

    Examples
    --------
    >>> in_cli_terms("pass data_home=<a folder>, or download=True.")
    'pass --data-home <a folder>, or --download.'
    >>> in_cli_terms("use device='cpu' or device='auto'.")
    'use --device cpu or --device auto.'
    >>> in_cli_terms("image_shape=(5, 5) holds 25 values; X has n_features=64.")
    '--image-shape 5,5 holds 25 values; X has n_features=64.'
    """
    message = _SHAPE_WORDS.sub(lambda m: m.group(1).upper().replace(", ", ","),
                               message)
    message = _ASSIGNMENT.sub(_assignment, message)
    message = _PARAMETER.sub(lambda m: FLAGS[m.group(1)], message)
    return _BARE.sub(lambda m: FLAGS[m.group(1)], message)


def one_line(exc):
    """The message of an exception on one line, in the command line's terms."""
    return in_cli_terms(" ".join(str(exc).split())) or type(exc).__name__
