"""The annotation session without a display: points, undo, counts, autosave to points.csv and reopening."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from pointseg.annotate.session import AnnotationSession
from pointseg.errors import InputError
from pointseg.labels import get_label_set
from pointseg.io.points import read_points
from tests.conftest import oblique_affine

LABELS = get_label_set()
SHAPE = (10, 12, 8)
AFFINE = np.array([[2.0, 0, 0, -10], [0, 3.0, 0, 5], [0, 0, 4.0, 7], [0, 0, 0, 1]])  # spacing 2, 3, 4 mm
HEADER = "label,i,j,k,x,y,z,time_s,annotator"


class Clock:
    """Click times 1.7e9, 1.7e9 + 1, ... seconds."""

    def __init__(self):
        self.now = 1.7e9 - 1

    def __call__(self) -> float:
        self.now += 1
        return self.now


def _session(path, affine=AFFINE, **options) -> AnnotationSession:
    return AnnotationSession(path, affine, SHAPE, LABELS, annotator="ann", clock=Clock(), **options)


def _lines(path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_added_points_are_saved_at_once_with_voxel_and_world_columns_time_and_annotator(tmp_path):
    path = tmp_path / "points.csv"
    session = _session(path)
    assert session.current_label == "L1" and not path.exists()
    assert session.add([[1, 2, 3]]) == 0
    # x = 2*1 - 10, y = 3*2 + 5, z = 4*3 + 7; the first click of the clock
    assert _lines(path) == [HEADER, "L1,1.000,2.000,3.000,-8.000,11.000,19.000,1700000000.000,ann"]
    session.set_label("L3")
    session.add([[0.5, 4.25, 6], [9, 0, 0]])
    session.add([[2, 2, 2]], labels=["background"])
    assert _lines(path)[2:] == ["L3,0.500,4.250,6.000,-9.000,17.750,31.000,1700000001.000,ann",
                                "L3,9.000,0.000,0.000,8.000,5.000,7.000,1700000001.000,ann",
                                "background,2.000,2.000,2.000,-6.000,11.000,15.000,1700000002.000,ann"]
    assert session.saved_at is not None and session.save_error is None
    assert not [p.name for p in tmp_path.iterdir() if p.name != "points.csv"]  # no temporary file left
    with pytest.raises(InputError, match="L9"):
        session.set_label("L9")
    with pytest.raises(InputError, match="L9"):
        session.add([[1, 1, 1]], labels=["L9"])
    assert len(session) == 4


def test_saved_coordinates_agree_with_an_oblique_affine(tmp_path):
    affine = oblique_affine(spacing=(3.0, 1.0, 2.0))
    session = _session(tmp_path / "points.csv", affine=affine)
    ijk = np.array([[0.0, 0.0, 0.0], [9.0, 11.0, 7.0], [4.5, 3.25, 1.0]])
    session.add(ijk, labels=["L1", "L2", "background"])
    saved = read_points(tmp_path / "points.csv", affine, LABELS, SHAPE)  # also checks i,j,k against x,y,z
    assert np.allclose(saved.ijk, ijk, atol=1e-3)
    assert np.allclose(saved.xyz, (affine[:3, :3] @ ijk.T).T + affine[:3, 3], atol=1e-3)


def test_counts_and_labels_still_without_points(tmp_path):
    session = _session(tmp_path / "points.csv")
    assert session.counts() == dict.fromkeys(LABELS.names, 0)
    assert session.missing() == ["L1", "L2", "L3", "L4", "L5"]
    session.add([[1, 1, 1], [2, 2, 2], [3, 3, 3], [4, 4, 4]], labels=["L2", "L2", "L5", "background"])
    assert session.counts() == {"background": 1, "L1": 0, "L2": 2, "L3": 0, "L4": 0, "L5": 1}
    assert session.missing() == ["L1", "L3", "L4"]


def test_every_kind_of_change_is_one_undo_step(tmp_path):
    path = tmp_path / "points.csv"
    session = _session(path)
    assert not session.can_undo and session.undo() is False

    def saved():
        return read_points(path, AFFINE, LABELS, SHAPE)

    session.add([[1, 1, 1], [2, 2, 2]], labels=["L1", "L2"])  # step 1: add two points
    session.add([[3, 3, 3]], labels=["L3"])  # step 2
    session.delete([0])  # step 3
    assert saved().labels == ["L2", "L3"]
    session.move([1], [[5, 6, 7]])  # step 4: a drag in two parts, one step
    session.move([1], [[5, 7, 7]], new_step=False)
    assert np.allclose(saved().ijk[1], [5, 7, 7])
    session.relabel([0, 1], "L4")  # step 5: the click times stay
    assert saved().labels == ["L4", "L4"] and list(saved().time_s) == [1.7e9, 1.7e9 + 1]
    session.replace(saved().subset(np.array([True, False])))  # step 6

    assert session.undo() and saved().labels == ["L4", "L4"]  # the replacement
    assert session.undo() and saved().labels == ["L2", "L3"]  # the relabel
    assert session.undo() and np.allclose(saved().ijk, [[2, 2, 2], [3, 3, 3]])  # the whole drag
    assert session.undo() and saved().labels == ["L1", "L2", "L3"]  # the delete
    assert session.undo() and saved().labels == ["L1", "L2"]  # the second add
    assert session.undo() and len(saved()) == 0 and _lines(path) == [HEADER]  # the first add
    assert not session.can_undo and session.undo() is False


def test_points_outside_the_ct_are_not_kept(tmp_path):
    path = tmp_path / "points.csv"
    session = _session(path)
    # within half a voxel of an edge voxel is inside, as reading points.csv accepts
    assert session.add([[-0.5, 0, 0], [9.5, 11.5, 7.5], [-0.6, 0, 0], [0, 12, 0]]) == 2
    assert len(session) == 2
    assert session.add([[0, 0, 40]]) == 1 and len(session) == 2
    assert session.move([0], [[3, 3, 100]]) == 1  # moved out of the CT: deleted
    assert len(read_points(path, AFFINE, LABELS, SHAPE)) == 1
    session.undo()
    assert np.allclose(read_points(path, AFFINE, LABELS, SHAPE).ijk[0], [-0.5, 0, 0])


def test_reopening_restores_the_points(tmp_path):
    path = tmp_path / "points.csv"
    first = _session(path)
    first.add([[1, 2, 3], [4.5, 5, 6]], labels=["L2", "background"])
    first.relabel([0], "L5")
    reopened = AnnotationSession.open(path, AFFINE, SHAPE, LABELS, annotator="other", clock=Clock())
    before, after = first.points, reopened.points
    assert after.labels == ["L5", "background"] and after.annotator == ["ann", "ann"]
    assert np.allclose(after.ijk, before.ijk, atol=1e-3) and np.allclose(after.xyz, before.xyz, atol=1e-3)
    assert np.allclose(after.time_s, before.time_s, atol=1e-3)
    assert reopened.counts()["L5"] == 1 and not reopened.can_undo  # history starts afresh
    reopened.add([[7, 7, 7]], labels=["L1"])  # carry on: appended, nothing before it lost
    assert [line.split(",")[0] for line in _lines(path)[1:]] == ["L5", "background", "L1"]
    assert _lines(path)[-1].endswith(",other")
    assert len(AnnotationSession.open(tmp_path / "none.csv", AFFINE, SHAPE, LABELS)) == 0


def test_a_failed_save_keeps_the_points_and_the_next_change_saves_them_all(tmp_path):
    path = tmp_path / "points.csv"
    session = _session(path)
    session.add([[1, 1, 1]])
    path.unlink()
    path.mkdir()  # the file cannot be replaced now
    session.add([[2, 2, 2]])
    assert session.save_error and len(session) == 2
    path.rmdir()
    session.add([[3, 3, 3]])
    assert session.save_error is None
    assert len(read_points(path, AFFINE, LABELS, SHAPE)) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["points.csv"]


def test_the_session_imports_neither_qt_nor_napari():
    code = ("import sys, pointseg.annotate.session, pointseg.annotate.views; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'qtpy', 'PyQt5', 'PyQt6', 'PySide2', 'PySide6', 'napari', 'vispy', 'torch'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, encoding="utf-8", errors="replace",
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
