"""Point annotations and the ``points.csv`` contract.

Header ``label,i,j,k,x,y,z`` with optional ``time_s,annotator``. ``label`` is a class name of the label
set; ``i,j,k`` are (fractional) voxel indices in nibabel order and ``x,y,z`` world RAS millimetres
(see :mod:`pointseg.io.volume`). A file may give voxel columns, world columns or both; when both are given
they must agree within half a voxel on every axis.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import nibabel as nib

from pointseg.io.atomic import write_text
from pointseg.errors import InputError
from pointseg.labels import LabelSet

VOXEL_COLUMNS = ("i", "j", "k")
WORLD_COLUMNS = ("x", "y", "z")
OPTIONAL_COLUMNS = ("time_s", "annotator")
HEADER = ("label",) + VOXEL_COLUMNS + WORLD_COLUMNS + OPTIONAL_COLUMNS


@dataclass
class Points:
    """N labelled points: class names, voxel indices ``(N, 3)`` and world RAS mm ``(N, 3)``.

    ``time_s`` holds click times in seconds (NaN where unknown); ``annotator`` who placed each point.
    """

    labels: list[str]
    ijk: np.ndarray
    xyz: np.ndarray
    time_s: np.ndarray = field(default=None)  # type: ignore[assignment]
    annotator: list[str] = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        n = len(self.labels)
        self.ijk = np.asarray(self.ijk, dtype=np.float64).reshape(n, 3)
        self.xyz = np.asarray(self.xyz, dtype=np.float64).reshape(n, 3)
        self.time_s = np.full(n, np.nan) if self.time_s is None else np.asarray(self.time_s, dtype=np.float64)
        self.annotator = [""] * n if self.annotator is None else list(self.annotator)

    def __len__(self) -> int:
        return len(self.labels)

    @classmethod
    def from_voxels(cls, labels, ijk, affine: np.ndarray, **extra) -> "Points":
        """Points from voxel indices; world columns are computed with ``affine``."""
        ijk = np.asarray(ijk, dtype=np.float64).reshape(-1, 3)
        return cls(list(labels), ijk, nib.affines.apply_affine(affine, ijk), **extra)

    def label_ids(self, label_set: LabelSet) -> np.ndarray:
        return np.array([label_set.id_of(name) for name in self.labels], dtype=np.int64)

    def subset(self, mask: np.ndarray) -> "Points":
        index = np.flatnonzero(mask)
        return Points(
            [self.labels[i] for i in index], self.ijk[index], self.xyz[index],
            self.time_s[index], [self.annotator[i] for i in index],
        )

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for name in self.labels:
            out[name] = out.get(name, 0) + 1
        return out


def _parse_float(value: str, column: str, line: int, path: Path) -> float:
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"line {line}: column {column!r} is not a number: {value!r}", path) from None
    if not math.isfinite(number):
        raise InputError(f"line {line}: column {column!r} is not finite: {value!r}", path)
    return number


def read_points(
    path: str | os.PathLike,
    affine: np.ndarray,
    label_set: LabelSet,
    shape: tuple[int, int, int] | None = None,
) -> Points:
    """Read and validate a ``points.csv`` against the CT's ``affine`` (and ``shape`` when given).

    Every problem raises :class:`InputError` naming the file and the line: a missing column, a value that
    is not a number, an unknown label, voxel and world columns that disagree by more than half a voxel,
    or (with ``shape``) a point outside the volume.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read points ({exc})", path) from exc
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() for c in (reader.fieldnames or [])]
    reader.fieldnames = columns
    has_voxel = set(VOXEL_COLUMNS) <= set(columns)
    has_world = set(WORLD_COLUMNS) <= set(columns)
    if "label" not in columns or not (has_voxel or has_world):
        raise InputError(
            f"header must hold 'label' and i,j,k and/or x,y,z (found: {','.join(columns) or 'nothing'})", path
        )
    inverse = np.linalg.inv(affine)
    labels, ijk, xyz, times, annotators = [], [], [], [], []
    for line, row in enumerate(reader, start=2):
        extra = row.pop(None, None)  # fields beyond the header's columns (csv's restkey)
        if extra is not None and any(v.strip() for v in extra):
            raise InputError(f"line {line}: {len(extra)} field(s) more than the header's {len(columns)} columns", path)
        if not any((v or "").strip() for v in row.values()):
            continue
        name = (row.get("label") or "").strip()
        if name not in label_set.names:
            raise InputError(
                f"line {line}: unknown label {name!r} (label set {label_set.name!r} has {', '.join(label_set.names)})",
                path,
            )
        voxel = [_parse_float(row[c] or "", c, line, path) for c in VOXEL_COLUMNS] if has_voxel else None
        world = [_parse_float(row[c] or "", c, line, path) for c in WORLD_COLUMNS] if has_world else None
        from_world = nib.affines.apply_affine(inverse, world) if world is not None else None
        if voxel is not None and from_world is not None:
            gap = np.abs(np.asarray(voxel) - from_world).max()
            if gap > 0.5:
                raise InputError(
                    f"line {line}: voxel (i,j,k) and world (x,y,z) columns disagree by {gap:.2f} voxels (max 0.5)",
                    path,
                )
        voxel = np.asarray(voxel) if voxel is not None else from_world
        world = np.asarray(world) if world is not None else nib.affines.apply_affine(affine, voxel)
        if shape is not None and (np.any(voxel < -0.5) or np.any(voxel > np.asarray(shape) - 0.5)):
            raise InputError(
                f"line {line}: point ({voxel[0]:.1f}, {voxel[1]:.1f}, {voxel[2]:.1f}) is outside the volume "
                f"of shape {tuple(shape)}",
                path,
            )
        time_text = (row.get("time_s") or "").strip()
        labels.append(name)
        ijk.append(voxel)
        xyz.append(world)
        times.append(_parse_float(time_text, "time_s", line, path) if time_text else np.nan)
        annotators.append((row.get("annotator") or "").strip())
    return Points(labels, np.reshape(ijk, (-1, 3)), np.reshape(xyz, (-1, 3)), np.asarray(times), annotators)


def format_points(points: Points) -> str:
    """The CSV text of ``points`` with the full header (voxel and world columns, time and annotator)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    for n in range(len(points)):
        time_s = points.time_s[n]
        writer.writerow(
            [points.labels[n]]
            + [f"{v:.3f}" for v in points.ijk[n]]
            + [f"{v:.3f}" for v in points.xyz[n]]
            + ["" if np.isnan(time_s) else f"{time_s:.3f}", points.annotator[n]]
        )
    return buffer.getvalue()


def write_points(path: str | os.PathLike, points: Points, force: bool = True) -> Path:
    """Write ``points`` atomically; with ``force=False`` an existing file is an :class:`InputError`."""
    path = Path(path)
    if path.exists() and not force:
        raise InputError("already exists (use --force to overwrite)", path)
    write_text(path, format_points(points))
    return path


def count_rows(path: str | os.PathLike) -> int:
    """How many rows of a ``points.csv`` hold anything (the header not counted; 0 for a missing file)."""
    path = Path(path)
    if not path.exists():
        return 0
    try:
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read points ({exc})", path) from exc
    return sum(1 for row in rows[1:] if any(field.strip() for field in row))
