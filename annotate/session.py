"""One case's annotation session, without Qt: its points, the current label, undo and autosave.

The points lie on the CT's grid: voxel indices ``i, j, k`` and world ``x, y, z`` through the affine, as the
``points.csv`` contract says (:mod:`pointseg.io.points`). Every change (add, delete, move, relabel, undo) is
written at once to ``points.csv`` through a temporary file renamed into place; added points carry their
click time (``time_s``, seconds since the epoch) and the annotator. A point outside the CT is not kept.
The napari widget holds a session and shows its points in a Points layer.
"""

from __future__ import annotations

import getpass
import os
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from pointseg.labels import BACKGROUND, LabelSet
from pointseg.io.points import Points, read_points, write_points


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers): leave the column empty
        return ""


def label_order(label_set: LabelSet) -> tuple[str, ...]:
    """The order the widget lists the labels in and steps through them: foreground by group, background last."""
    return tuple(name for names in label_set.groups().values() for name in names) + (BACKGROUND,)


def no_points() -> Points:
    return Points([], np.zeros((0, 3)), np.zeros((0, 3)))


def _join(first: Points, second: Points) -> Points:
    return Points(first.labels + second.labels, np.vstack([first.ijk, second.ijk]), np.vstack([first.xyz, second.xyz]),
                  np.concatenate([first.time_s, second.time_s]), first.annotator + second.annotator)


class AnnotationSession:
    """The points of one case and their undo history; each change is saved to ``points_path`` at once.

    ``affine`` and ``shape`` are the CT's; ``points`` those already clicked (none by default). ``clock``
    gives the click times.
    """

    def __init__(self, points_path: str | os.PathLike, affine: np.ndarray, shape: Sequence[int],
                 label_set: LabelSet, points: Points | None = None, annotator: str | None = None,
                 clock: Callable[[], float] = time.time):
        self.points_path = Path(points_path)
        self.affine = np.asarray(affine, dtype=np.float64)
        self.shape = tuple(int(n) for n in shape[:3])
        self.label_set = label_set
        self.annotator = current_user() if annotator is None else annotator
        self.current_label = label_set.foreground[0]
        self.saved_at: float | None = None
        self.save_error: str | None = None
        self._points = no_points() if points is None else points.subset(np.ones(len(points), bool))  # a copy
        self._check(self._points.labels)
        self._history: list[Points] = []
        self._clock = clock

    @classmethod
    def open(cls, points_path: str | os.PathLike, affine: np.ndarray, shape: Sequence[int], label_set: LabelSet,
             **options) -> "AnnotationSession":
        """A session on ``points_path`` with the points saved there (none when the file does not exist)."""
        path = Path(points_path)
        points = read_points(path, affine, label_set, shape=tuple(shape)) if path.exists() else None
        return cls(path, affine, shape, label_set, points, **options)

    # ------------------------------------------------------------------------------------- state
    @property
    def points(self) -> Points:
        """The current points (replaced, never modified, by each change)."""
        return self._points

    def __len__(self) -> int:
        return len(self._points)

    @property
    def can_undo(self) -> bool:
        return bool(self._history)

    def counts(self) -> dict[str, int]:
        """Points per label of the label set (0 for labels without points)."""
        return {name: self._points.labels.count(name) for name in self.label_set.names}

    def missing(self) -> list[str]:
        """The foreground labels still without points."""
        counts = self.counts()
        return [name for name in self.label_set.foreground if counts[name] == 0]

    def next_label(self, step: int = 1) -> str:
        """The label ``step`` places after the current one in :func:`label_order`, wrapping round."""
        order = label_order(self.label_set)
        return order[(order.index(self.current_label) + step) % len(order)]

    def next_missing(self) -> str | None:
        """The first label after the current one (wrapping round) still without points; None when there is none."""
        order, missing = label_order(self.label_set), set(self.missing())
        start = order.index(self.current_label) + 1
        return next((name for name in order[start:] + order[:start] if name in missing), None)

    def inside(self, ijk: np.ndarray) -> np.ndarray:
        """Which voxel positions lie within the CT (within half a voxel of its edge voxels)."""
        ijk = np.asarray(ijk, dtype=np.float64).reshape(-1, 3)
        return np.all((ijk >= -0.5) & (ijk <= np.asarray(self.shape) - 0.5), axis=1)

    def set_label(self, name: str) -> None:
        """Make ``name`` the label of the next added points."""
        self._check([name])
        self.current_label = name

    # ----------------------------------------------------------------------------------- changes
    def add(self, ijk: np.ndarray, labels: str | Iterable[str] | None = None) -> int:
        """Add points at voxel positions ``ijk`` (N, 3) with ``labels`` (the current label by default), stamped
        with the time and the annotator; returns how many were outside the CT and not kept."""
        ijk = np.asarray(ijk, dtype=np.float64).reshape(-1, 3)
        labels = self.current_label if labels is None else labels
        labels = [labels] * len(ijk) if isinstance(labels, str) else list(labels)
        if len(labels) != len(ijk):
            raise ValueError(f"{len(labels)} labels for {len(ijk)} points")
        self._check(labels)
        inside = self.inside(ijk)
        kept = [name for name, keep in zip(labels, inside) if keep]
        if kept:
            added = Points.from_voxels(kept, ijk[inside], self.affine, time_s=np.full(len(kept), self._clock()),
                                       annotator=[self.annotator] * len(kept))
            self._change(_join(self._points, added))
        return int((~inside).sum())

    def delete(self, rows: Iterable[int]) -> None:
        """Delete the points at ``rows``."""
        keep = np.ones(len(self), bool)
        keep[list(rows)] = False
        if not keep.all():
            self._change(self._points.subset(keep))

    def move(self, rows: Sequence[int], ijk: np.ndarray, new_step: bool = True) -> int:
        """Move the points at ``rows`` to voxel positions ``ijk``; with ``new_step=False`` the move belongs
        to the last undo step (the rest of a drag). Points moved out of the CT are deleted; returns how many."""
        rows = list(rows)
        ijk = np.asarray(ijk, dtype=np.float64).reshape(-1, 3)
        moved = self._points.ijk.copy()
        moved[rows] = ijk
        points = Points.from_voxels(self._points.labels, moved, self.affine, time_s=self._points.time_s.copy(),
                                    annotator=list(self._points.annotator))
        inside = self.inside(moved)
        self._change(points.subset(inside), new_step or not self._history)
        return int((~inside).sum())

    def relabel(self, rows: Iterable[int], name: str) -> None:
        """Give the points at ``rows`` the label ``name``; their click times stay."""
        self._check([name])
        labels = list(self._points.labels)
        for row in rows:
            labels[row] = name
        if labels != self._points.labels:
            points = self._points
            self._change(Points(labels, points.ijk, points.xyz, points.time_s, points.annotator))

    def replace(self, points: Points) -> int:
        """Make ``points`` the session's points (one undo step); returns how many were outside the CT and
        not kept."""
        self._check(points.labels)
        inside = self.inside(points.ijk)
        self._change(points.subset(inside))
        return int((~inside).sum())

    def undo(self) -> bool:
        """Take back the last change; False when there is none."""
        if not self._history:
            return False
        self._points = self._history.pop()
        self.save()
        return True

    def _check(self, labels: Iterable[str]) -> None:
        for name in labels:
            self.label_set.id_of(name)  # InputError for a name the label set does not know

    def _change(self, points: Points, new_step: bool = True) -> None:
        if new_step:
            self._history.append(self._points)
        self._points = points
        self.save()

    # ------------------------------------------------------------------------------------- saving
    def save(self) -> Path | None:
        """Write the points atomically to ``points_path``; None (and ``save_error`` set) when that fails."""
        try:
            write_points(self.points_path, self._points, force=True)
        except Exception as exc:  # a full disk or a read-only folder: the points stay, the next change saves them
            self.save_error = str(exc)
            return None
        self.saved_at, self.save_error = time.time(), None
        return self.points_path
