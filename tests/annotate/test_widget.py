"""The annotation widget in a real napari viewer (under xvfb): labels, clicks, autosave, undo, reopening."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import numpy as np
from qtpy.QtCore import QPoint, Qt

from pointseg.annotate.layers import DisplayGeometry
from pointseg.annotate.views import VIEW_ORDERS
from pointseg.labels import get_label_set
from pointseg.io.points import read_points
from pointseg.io.volume import read_volume

LABELS = get_label_set()


def _canvas(viewer):
    return viewer.window._qt_viewer.canvas.native  # the vispy canvas widget, to send real mouse and key events


def _saved(widget):
    """points.csv as written by the autosave, on the CT's grid."""
    ct = read_volume(widget.case_dir / "ct.nii.gz")
    return read_points(widget.points_path, ct.affine, LABELS, ct.shape)


def _assert_file_matches_layer(widget):
    saved = _saved(widget)
    layer = widget.layer
    assert saved.labels == [str(v) for v in layer.features["label"]]
    assert np.allclose(saved.ijk, widget.geometry.to_voxel(layer.data), atol=1e-3)
    assert np.allclose(saved.time_s, layer.features["time_s"], atol=1e-3, equal_nan=True)


def test_case_opens_in_physical_space_with_the_widget_attached(annotation, case_dir):
    viewer, widget = annotation
    assert widget.layer is viewer.layers[-1] and widget.points_path == case_dir / "points.csv"
    assert widget.title.text() == "phantom_000"
    ct = read_volume(case_dir / "ct.nii.gz")
    geometry = DisplayGeometry.of(ct)
    for layer in viewer.layers:
        assert np.allclose(layer.scale, geometry.scale)
    # every label is still without points, and the hint says so
    assert widget.counts() == dict.fromkeys(LABELS.names, 0)
    assert "L1, L2, L3, L4, L5" in widget.hint.text()
    assert widget.layer.mode == "add" and widget.current_label == "L1"


def test_anisotropic_scan_is_not_squashed(make_napari_viewer, tmp_path):
    from pointseg.annotate.app import open_annotation
    from pointseg.simulate.cases import write_phantoms

    write_phantoms(tmp_path, 1, seed=2, spacing=(2.0, 2.0, 6.0))
    viewer = make_napari_viewer()
    viewer, widget = open_annotation(tmp_path / "phantom_000", viewer=viewer)
    ct = viewer.layers[0]
    world_extent = np.diff(np.asarray(ct.extent.world), axis=0)[0]
    data_extent = np.asarray(ct.data.shape) * np.asarray(ct.scale)
    assert np.allclose(world_extent, data_extent, rtol=0.05)
    assert sorted(np.asarray(ct.scale).round(3)) == [2.0, 2.0, 6.0]


def test_hotkeys_and_canvas_clicks_add_points_of_the_current_label(annotation, qtbot):
    viewer, widget = annotation
    canvas = _canvas(viewer)
    center = QPoint(canvas.width() // 2, canvas.height() // 2)
    added = []
    for view, key, label in (("axial", Qt.Key.Key_3, "L3"), ("coronal", Qt.Key.Key_5, "L5"),
                             ("sagittal", Qt.Key.Key_0, "background")):
        widget.show_view(view)
        assert viewer.dims.order == VIEW_ORDERS[view]
        qtbot.keyClick(canvas, key)
        assert widget.current_label == label
        step = viewer.dims.current_step[viewer.dims.order[0]]
        qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=center + QPoint(7 * len(added), 5))
        qtbot.wait(20)
        added.append(label)
        assert [str(v) for v in widget.layer.features["label"]] == added
        # the new point lies on the slice being shown
        assert np.rint(widget.layer.data[-1][viewer.dims.order[0]]) == step
        _assert_file_matches_layer(widget)
    assert widget.counts()["L3"] == 1 and "L1, L2, L4" in widget.hint.text()


def test_autosave_matches_the_layer_after_every_change(annotation, case_dir):
    viewer, widget = annotation
    layer = widget.layer
    middle = np.asarray(viewer.layers[0].data.shape) / 2
    for n, name in enumerate(LABELS.foreground):
        widget.set_label(name)
        layer.add([middle + [0, 2 * n - 5, n]])
        _assert_file_matches_layer(widget)
    assert widget.counts()["L5"] == 1 and "background" in widget.hint.text()
    times = _saved(widget).time_s
    assert np.all(np.isfinite(times)) and np.all(np.diff(times) >= 0) and abs(times[-1] - time.time()) < 60
    assert _saved(widget).annotator[0] == widget.layer.features["annotator"][0]

    widget.set_label("background")
    layer.add([middle + [0, 10, 10]])
    assert "Every label has points" in widget.hint.text()
    _assert_file_matches_layer(widget)

    layer.selected_data = {1}  # delete L2
    widget.delete_selected()
    assert _saved(widget).labels == ["L1", "L3", "L4", "L5", "background"]
    _assert_file_matches_layer(widget)
    assert "L2" in widget.hint.text()

    moved = np.array(layer.data)
    moved[0] += [0, 1, 1]
    layer.data = moved  # a move (as when dragging a point)
    _assert_file_matches_layer(widget)

    widget.undo()  # takes back the move
    assert np.allclose(layer.data[0], moved[0] - [0, 1, 1])
    _assert_file_matches_layer(widget)
    widget.undo()  # and the delete
    assert _saved(widget).labels == ["L1", "L2", "L3", "L4", "L5", "background"]
    _assert_file_matches_layer(widget)
    assert [str(v) for v in layer.features["label"]] == _saved(widget).labels
    assert np.allclose(layer.face_color[1], np.r_[np.asarray(LABELS.color_of("L2")) / 255, 1], atol=0.01)

    layer.add([middle + [0, 500, 0]])  # outside the CT: not kept, nothing broken on disk
    assert len(layer.data) == 6
    _assert_file_matches_layer(widget)


def test_reopening_restores_the_session(make_napari_viewer, annotation, case_dir):
    from pointseg.annotate.app import open_annotation

    viewer, widget = annotation
    middle = np.asarray(viewer.layers[0].data.shape) / 2
    for n, name in enumerate(["L2", "L4", "background"]):
        widget.set_label(name)
        widget.layer.add([middle + [n - 1, n, -n]])
    data, features = np.array(widget.layer.data), widget.layer.features.copy()
    viewer.close()

    again, reopened = open_annotation(case_dir, viewer=make_napari_viewer())
    assert np.allclose(reopened.layer.data, data, atol=1e-3)
    assert list(reopened.layer.features["label"]) == list(features["label"])
    assert np.allclose(reopened.layer.features["time_s"], features["time_s"], atol=1e-3)
    assert reopened.counts()["L4"] == 1 and "L1, L3, L5" in reopened.hint.text()
    # carry on: a new click is appended, nothing before it is lost
    reopened.set_label("L1")
    reopened.layer.add([middle])
    assert _saved(reopened).labels == ["L2", "L4", "background", "L1"]
    # the slider is on the slice of the last click
    assert again.dims.current_step[0] == int(round(data[-1][0]))


def test_killing_napari_keeps_every_click(case_dir, tmp_path):
    script = textwrap.dedent(f"""
        import os, signal
        import numpy as np
        import napari
        from pointseg.annotate.app import open_annotation
        viewer, widget = open_annotation({str(case_dir)!r}, viewer=napari.Viewer(show=False))
        middle = np.asarray(viewer.layers[0].data.shape) / 2
        for n, name in enumerate(["L1", "L2", "L3", "L4", "L5"]):
            widget.set_label(name)
            widget.layer.add([middle + [0, n, n]])
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=os.getcwd(), capture_output=True, encoding="utf-8",
                            errors="replace", timeout=180)
    assert result.returncode == -9, result.stderr[-2000:]
    ct = read_volume(case_dir / "ct.nii.gz")
    saved = read_points(case_dir / "points.csv", ct.affine, LABELS, ct.shape)
    assert saved.labels == ["L1", "L2", "L3", "L4", "L5"]
    assert not [p for p in case_dir.iterdir() if p.name.startswith(".") or "tmp" in p.name]


def test_window_presets_set_the_ct_contrast(annotation):
    viewer, widget = annotation
    ct = widget.ct_layer()
    assert tuple(ct.contrast_limits) == (-450.0, 1050.0)
    widget.set_window("Soft tissue (−160…240 HU)")
    assert tuple(ct.contrast_limits) == (-160.0, 240.0)
    assert widget.window_combo.currentText().startswith("Soft tissue")


def test_screenshot_shows_the_widget_and_points_in_label_colours(annotation, qtbot):
    viewer, widget = annotation
    widget.show_view("axial")
    middle = np.asarray(viewer.layers[0].data.shape) // 2
    middle[0] = viewer.dims.current_step[0]  # on the slice shown
    offsets = [(-12, -14), (-7, -6), (-2, 2), (3, 10), (8, -10), (10, 12)]
    for (dy, dx), name in zip(offsets, list(LABELS.foreground) + ["background"], strict=True):
        widget.set_label(name)
        widget.layer.add([middle + [0, dy, dx]])
    qtbot.wait(100)
    out = os.environ.get("POINTSEG_SCREENSHOTS") or os.path.join("out", "screenshots")
    os.makedirs(out, exist_ok=True)
    full = viewer.screenshot(os.path.join(out, "annotate.png"), canvas_only=False)
    canvas = viewer.screenshot(canvas_only=True)
    assert full.shape[1] > canvas.shape[1] + 200  # the docked widget is in the picture
    for name in list(LABELS.foreground) + ["background"]:
        color = np.asarray(LABELS.color_of(name))
        close = np.abs(canvas[..., :3].astype(int) - color).max(axis=-1) <= 12
        assert close.sum() >= 20, f"{name} points not visible in the canvas"
    # the CT is shown in grey
    grey = canvas[..., :3].astype(int)
    assert (np.ptp(grey, axis=-1) <= 3).mean() > 0.5


def test_a_hotkey_relabels_the_selected_points(annotation, qtbot):
    viewer, widget = annotation
    middle = np.asarray(viewer.layers[0].data.shape) / 2
    for n, name in enumerate(["L1", "L1", "L2"]):
        widget.set_label(name)
        widget.layer.add([middle + [0, 3 * n, 0]])
    times = np.array(widget.layer.features["time_s"])
    widget.layer.mode = "select"
    widget.layer.selected_data = {1}
    qtbot.keyClick(_canvas(viewer), Qt.Key.Key_4)
    assert [str(v) for v in widget.layer.features["label"]] == ["L1", "L4", "L2"]
    assert widget.layer.mode == "select" and widget.counts()["L4"] == 1
    assert np.allclose(widget.layer.features["time_s"], times)  # the click keeps its time
    assert np.allclose(widget.layer.face_color[1][:3], np.asarray(LABELS.color_of("L4")) / 255, atol=0.01)
    _assert_file_matches_layer(widget)
    widget.undo()
    assert _saved(widget).labels == ["L1", "L1", "L2"]
    # with nothing selected a hotkey only picks the label for the next clicks
    widget.layer.selected_data = set()
    widget.set_label("L5")
    assert widget.layer.mode == "add" and _saved(widget).labels == ["L1", "L1", "L2"]


def test_a_failed_save_is_shown_and_the_next_change_saves_everything(annotation, case_dir):
    viewer, widget = annotation
    middle = np.asarray(viewer.layers[0].data.shape) / 2
    widget.set_label("L1")
    widget.layer.add([middle])
    (case_dir / "points.csv").unlink()
    (case_dir / "points.csv").mkdir()  # the file cannot be replaced now
    widget.set_label("L2")
    widget.layer.add([middle + [0, 4, 4]])
    assert widget.save_error and widget.status.text().startswith("NOT SAVED")
    assert len(widget.layer.data) == 2  # nothing lost in the viewer
    (case_dir / "points.csv").rmdir()
    widget.set_label("L3")
    widget.layer.add([middle + [0, -4, 4]])
    assert widget.save_error is None and "saved" in widget.status.text()
    assert _saved(widget).labels == ["L1", "L2", "L3"]
    assert not [p.name for p in case_dir.iterdir() if p.name not in {"ct.nii.gz", "labels.nii.gz", "phantom.json",
                                                                      "points.csv"}]
