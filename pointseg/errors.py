"""Errors that carry a message meant for the user.

Anything raised as :class:`InputError` is reported by the command line as one line naming the file and
the problem, with exit status 2 (a traceback only with ``--debug``).
"""

from __future__ import annotations

import os


class PointsegError(Exception):
    """Base class of the errors pointseg reports to the user without a traceback."""

    exit_code = 2


class InputError(PointsegError):
    """Bad user input: a file that cannot be read, a contract that is broken, an invalid option."""

    def __init__(self, message: str, path: str | os.PathLike | None = None):
        self.path = None if path is None else os.fspath(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)
