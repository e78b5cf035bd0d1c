"""Atomic output: every file is written under a temporary name in its folder, then renamed into place.

A crash or a full disk never leaves a half-written file where the user expects a complete one, and an
existing file is replaced only once its successor is complete.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


def _default_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give a new file (0o666 less the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _suffixes(path: Path) -> str:
    """The full extension of ``path`` (``.nii.gz`` for ``ct.nii.gz``), so writers pick the right format."""
    return "".join(path.suffixes[-2:]) if path.name.endswith((".nii.gz", ".tar.gz")) else path.suffix


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success rename it onto ``target``.

    The temporary name keeps the target's extension (``.nii.gz``, ``.h5``, ``.png`` ...) so libraries that
    choose the format from the name write the right one. On any exception the temporary file is removed and
    ``target`` is left untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{_suffixes(target)}", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, _default_mode())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(target: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``target`` atomically (UTF-8)."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
