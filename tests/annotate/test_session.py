"""The whole annotation session as a person does it: open, click L1-L5, close, reopen, carry on, build."""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import QPoint, Qt

from pointseg.cli import main
from pointseg.labels import get_label_set
from pointseg.io.points import read_points
from pointseg.io.volume import read_volume

KEYS = [Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3, Qt.Key.Key_4, Qt.Key.Key_5]


def _open(case_dir, monkeypatch, qtbot, make_napari_viewer):
    import napari

    monkeypatch.setattr(napari, "run", lambda *args, **kwargs: None)
    monkeypatch.setattr(napari, "Viewer", make_napari_viewer)  # the fixture's viewers are isolated and cleaned up
    assert main(["annotate", str(case_dir), "--quiet"]) == 0
    viewer = napari.current_viewer()
    viewer.window.resize(1400, 900)
    qtbot.wait(50)
    return viewer, viewer.window.dock_widgets["Point annotation"]


def _click(viewer, qtbot, key, offset):
    canvas = viewer.window._qt_viewer.canvas.native  # real key and mouse events on the canvas
    qtbot.keyClick(canvas, key)
    center = QPoint(canvas.width() // 2, canvas.height() // 2)
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=center + QPoint(*offset))


def test_click_close_reopen_carry_on_and_build(case_dir, monkeypatch, qtbot, make_napari_viewer):
    labels = get_label_set()
    viewer, widget = _open(case_dir, monkeypatch, qtbot, make_napari_viewer)
    for n, key in enumerate(KEYS[:3]):  # L1-L3 in the axial view
        _click(viewer, qtbot, key, (8 * n - 8, 6))
    widget.show_view("sagittal")
    for n, key in enumerate(KEYS[3:]):  # L4 and L5 in the sagittal view
        _click(viewer, qtbot, key, (5, 8 * n))
    _click(viewer, qtbot, Qt.Key.Key_0, (-60, -40))
    assert widget.counts() == {"background": 1, "L1": 1, "L2": 1, "L3": 1, "L4": 1, "L5": 1}
    viewer.close()

    viewer, widget = _open(case_dir, monkeypatch, qtbot, make_napari_viewer)  # reopen: everything is back
    assert widget.counts() == {"background": 1, "L1": 1, "L2": 1, "L3": 1, "L4": 1, "L5": 1}
    _click(viewer, qtbot, Qt.Key.Key_3, (0, 14))  # carry on
    ct = read_volume(case_dir / "ct.nii.gz")
    saved = read_points(case_dir / "points.csv", ct.affine, labels, ct.shape)
    assert saved.labels == ["L1", "L2", "L3", "L4", "L5", "background", "L3"]
    assert np.all(np.diff(saved.time_s) >= 0) and np.isfinite(saved.time_s).all()

    widget.profile_combo.setCurrentText("tiny")
    widget.build_pseudo_mask()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=600_000)
    assert (case_dir / "pseudo.nii.gz").exists(), widget.build_status.text()
    assert any(layer.name == "phantom_000 pseudo-mask" for layer in viewer.layers)
    assert read_points(case_dir / "points.csv", ct.affine, labels, ct.shape).labels == saved.labels  # nothing lost
    viewer.close()
