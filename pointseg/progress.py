"""Progress bars for long work (tqdm on stderr), switched off with ``--quiet``."""

from __future__ import annotations

import sys
from typing import Iterable, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")
_enabled = True


def set_enabled(enabled: bool) -> None:
    global _enabled
    _enabled = enabled


def progress(iterable: Iterable[T], desc: str, total: int | None = None, unit: str = "case") -> Iterable[T]:
    """Wrap ``iterable`` in a progress bar labelled ``desc``."""
    return tqdm(iterable, desc=desc, total=total, unit=unit, file=sys.stderr, disable=not _enabled, dynamic_ncols=True)


def say(message: str) -> None:
    """A status line on stderr that does not break a running progress bar."""
    tqdm.write(message, file=sys.stderr)
