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


def check_output(target: str | os.PathLike, folder: bool = False, suffixes: tuple[str, ...] = ()) -> Path:
    """``target`` if a command can write it there, checked before any long work; an InputError naming it
    otherwise: a file where a folder is wanted or the reverse, a parent that is a file or cannot be written,
    or a name without one of ``suffixes`` (``.nii.gz``, say)."""
    from pointseg.errors import InputError

    target = Path(target)
    if folder and target.exists() and not target.is_dir():
        raise InputError("is a file, not a folder", target)
    if not folder and target.is_dir():
        raise InputError("is a folder, not a file name", target)
    if suffixes and not target.name.lower().endswith(tuple(s.lower() for s in suffixes)):
        raise InputError(f"the file name must end in {' or '.join(suffixes)}", target)
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"cannot be written: {parent} is a file, not a folder", target)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot be written: no permission to write in {parent}", target)
    return target
