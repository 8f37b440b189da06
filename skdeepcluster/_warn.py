"""Warnings that point at the user's line, not at the package's."""

from __future__ import annotations

import os
import sys
import warnings

import sklearn

_INTERNAL = (os.path.dirname(os.path.abspath(__file__)) + os.sep,
             os.path.dirname(os.path.abspath(sklearn.__file__)) + os.sep)


def warn_user(message, category=UserWarning):
    """``warnings.warn`` with the stack level of the first frame outside
    skdeepcluster and scikit-learn (which wraps ``fit``)."""
    frame, level = sys._getframe(1), 2
    while frame is not None and os.path.abspath(
            frame.f_code.co_filename).startswith(_INTERNAL):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
