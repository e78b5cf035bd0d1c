"""Progress bars for long work (tqdm on stderr), switched off with ``--quiet``.

A caller on another thread (the napari widget's worker) can watch every bar opened on its own thread with
:func:`observe`: the callback gets ``(description, done, total)`` before each item and once at the end,
and may raise :class:`Cancelled` to stop the work at the next item.
"""

from __future__ import annotations

import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")
Observer = Callable[[str, int, "int | None"], None]
_enabled = True
_local = threading.local()


class Cancelled(Exception):
    """Raised by an observer to stop long work; files are written atomically, so nothing half-written stays."""


def set_enabled(enabled: bool) -> None:
    global _enabled
    _enabled = enabled


@contextmanager
def observe(callback: Observer) -> Iterator[None]:
    """Report every progress bar opened on this thread inside the block to ``callback``."""
    previous = getattr(_local, "observer", None)
    _local.observer = callback
    try:
        yield
    finally:
        _local.observer = previous


class _Observed:
    """A progress bar whose iteration also reports to an observer; other attributes go to the bar."""

    def __init__(self, bar: tqdm, desc: str, total: int | None, observer: Observer):
        self._bar, self._desc, self._total, self._observer = bar, desc, total, observer

    def __iter__(self) -> Iterator:
        done = 0
        for item in self._bar:
            self._observer(self._desc, done, self._total)
            yield item
            done += 1
        self._observer(self._desc, done, self._total)

    def __getattr__(self, name: str):
        return getattr(self._bar, name)


def progress(iterable: Iterable[T], desc: str, total: int | None = None, unit: str = "case") -> Iterable[T]:
    """Wrap ``iterable`` in a progress bar labelled ``desc``."""
    bar = tqdm(iterable, desc=desc, total=total, unit=unit, file=sys.stderr, disable=not _enabled, dynamic_ncols=True)
    observer = getattr(_local, "observer", None)
    if observer is None:
        return bar
    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    return _Observed(bar, desc, total, observer)


def say(message: str) -> None:
    """A status line on stderr that does not break a running progress bar."""
    tqdm.write(message, file=sys.stderr)
