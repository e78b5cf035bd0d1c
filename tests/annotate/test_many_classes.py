"""Label sets too large for buttons (ribs, bones): the searchable picker, next/previous keys, what is missing."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import QPoint, Qt

from pointseg.annotate.label_picker import matches
from pointseg.annotate.session import AnnotationSession, label_order
from pointseg.labels import RIB_NAMES, get_label_set
from pointseg.io.points import read_points
from pointseg.io.volume import Volume, read_volume, write_nifti

RIBS = get_label_set("ribs")
SCREENSHOT = "/tmp/pointseg_ribs_widget.png"


def _canvas(viewer):
    return viewer.window._qt_viewer.canvas.native  # the vispy canvas widget, to send real mouse and key events


def _saved_labels(widget) -> list[str]:
    ct = read_volume(widget.case_dir / "ct.nii.gz")
    return read_points(widget.points_path, ct.affine, RIBS, ct.shape).labels


def _click_row(qtbot, picker, name: str) -> None:
    item = picker.items[name]
    picker.list.scrollToItem(item)
    qtbot.mouseClick(picker.list.viewport(), Qt.MouseButton.LeftButton,
                     pos=picker.list.visualItemRect(item).center())


@pytest.fixture
def ribs_case(tmp_path):
    """A case folder with a 40×40×40 CT (2 mm) and no points yet."""
    folder = tmp_path / "dataset" / "ribs_000"
    folder.mkdir(parents=True)
    ct = np.full((40, 40, 40), -100, np.int16)
    ct[8:32, 8:32, 8:32] = 300
    write_nifti(Volume(ct, np.diag([2.0, 2.0, 2.0, 1.0])), folder / "ct.nii.gz", dtype=np.int16)
    return folder


@pytest.fixture
def ribs(make_napari_viewer, ribs_case, qtbot):
    """(viewer, widget) with the ribs case open at 1600×1000."""
    from pointseg.annotate.app import open_annotation

    viewer = make_napari_viewer(show=True)
    viewer.window.resize(1600, 1000)
    viewer, widget = open_annotation(ribs_case, viewer=viewer, labels="ribs")
    qtbot.wait(50)
    return viewer, widget


def test_label_order_and_next_labels_without_qt(tmp_path):
    bones = get_label_set("bones")
    order = label_order(bones)
    assert order[0] == "vertebrae_C1" and order[24] == "rib_left_1" and order[-1] == "background"
    assert sorted(order) == sorted(bones.names)
    session = AnnotationSession(tmp_path / "points.csv", np.eye(4), (10, 10, 10), RIBS, annotator="ann")
    assert session.current_label == "rib_left_1"
    assert session.next_label(1) == "rib_left_2" and session.next_label(-1) == "background"
    session.set_label("background")
    assert session.next_label(1) == "rib_left_1"
    session.set_label("rib_left_1")
    session.add([[1, 1, 1]], labels=["rib_left_2"])
    session.add([[1, 1, 2]], labels=["rib_left_3"])
    assert session.next_missing() == "rib_left_4"
    session.set_label("rib_right_12")
    assert session.next_missing() == "rib_left_1"  # round the end, background is never missing
    session.add(np.ones((24, 3)), labels=list(RIB_NAMES))
    assert session.missing() == [] and session.next_missing() is None


def test_filter_matches_case_insensitive_substrings():
    assert matches("vertebrae_T7", "t7") and matches("rib_left_3", "RIB L") and matches("rib_left_3", " rib_l ")
    assert not matches("rib_right_3", "rib_l")


def test_only_sets_of_more_than_ten_labels_get_the_picker(qtbot):
    from pointseg.annotate.label_panel import LabelPanel

    panel = LabelPanel()
    qtbot.addWidget(panel)
    panel.set_label_set(get_label_set("organs"))  # 8 organs and background: buttons, keys 1-8
    assert panel.chooser is panel.buttons and panel.keys["kidney_right"] == "7"
    bones = get_label_set("bones")
    panel.set_label_set(bones)
    assert panel.chooser is panel.picker and panel.picker.visible() == list(label_order(bones))
    assert list(panel.picker.headers) == ["vertebrae", "ribs", "large_bones"]
    panel.picker.filter_edit.setText("t7")
    assert panel.picker.visible() == ["vertebrae_T7"]
    assert [group for group, (header, _) in panel.picker.headers.items() if not header.isHidden()] == ["vertebrae"]


def test_ribs_get_the_picker_with_every_rib_and_background(ribs):
    viewer, widget = ribs
    picker = widget.picker
    assert picker.isVisible() and not widget.labels_box.isVisible()
    assert picker.visible() == list(RIB_NAMES) + ["background"]  # 25 entries, by group
    assert picker.list.count() == 26  # and the ribs' header
    assert "0 of 24" in picker.headers["ribs"][0].text()
    assert picker.keys == {"background": "0"}  # no digit keys for 24 ribs
    assert widget.current_label == "rib_left_1" and picker.list.currentItem() is picker.items["rib_left_1"]


def test_typing_filters_and_enter_picks(ribs, qtbot):
    viewer, widget = ribs
    picker = widget.picker
    qtbot.keyClicks(picker.filter_edit, "rib_right_1")
    assert picker.visible() == ["rib_right_1", "rib_right_10", "rib_right_11", "rib_right_12"]
    qtbot.keyClick(picker.filter_edit, Qt.Key.Key_Down)
    qtbot.keyClick(picker.filter_edit, Qt.Key.Key_Return)
    assert widget.current_label == "rib_right_10" and widget.layer.mode == "add"
    picker.filter_edit.clear()
    qtbot.keyClicks(picker.filter_edit, "RIB L")
    assert picker.visible() == [name for name in RIB_NAMES if "left" in name]
    qtbot.keyClicks(picker.filter_edit, "zzz")
    assert picker.visible() == [] and picker.headers["ribs"][0].isHidden()
    qtbot.keyClick(picker.filter_edit, Qt.Key.Key_Return)  # nothing shown, nothing picked
    assert widget.current_label == "rib_right_10"


def test_a_picked_rib_goes_to_points_csv_and_leaves_the_missing_list(ribs, qtbot):
    viewer, widget = ribs
    panel, canvas = widget.label_panel, _canvas(viewer)
    assert panel.missing_list.count() == 24 and "Without points: 24 of 24" in widget.hint.text()
    _click_row(qtbot, widget.picker, "rib_left_3")
    assert widget.current_label == "rib_left_3"
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(canvas.width() // 2, canvas.height() // 2))
    qtbot.wait(20)
    assert _saved_labels(widget) == ["rib_left_3"]
    assert panel.missing_list.count() == 23 and "23 of 24" in widget.hint.text()
    assert "rib_left_3" not in [panel.missing_list.item(n).text() for n in range(23)]
    assert widget.picker.items["rib_left_3"].data(Qt.ItemDataRole.UserRole + 1) == 1
    assert "1 of 24" in widget.picker.headers["ribs"][0].text()
    # a click in the missing list picks that rib
    chip = panel.missing_list.item(0)
    qtbot.mouseClick(panel.missing_list.viewport(), Qt.MouseButton.LeftButton,
                     pos=panel.missing_list.visualItemRect(chip).center())
    assert widget.current_label == "rib_left_1"


def test_next_previous_and_next_missing_keys(ribs, qtbot):
    viewer, widget = ribs
    canvas = _canvas(viewer)
    middle = np.asarray(viewer.layers[0].data.shape) / 2
    for n, name in enumerate(["rib_left_2", "rib_left_3"]):
        widget.set_label(name)
        widget.layer.add([middle + [0, n, n]])
    widget.set_label("rib_left_1")
    steps = []
    for key in [Qt.Key.Key_Period] * 3 + [Qt.Key.Key_Comma] * 5:
        qtbot.keyClick(canvas, key)
        steps.append(widget.current_label)
    assert steps == ["rib_left_2", "rib_left_3", "rib_left_4", "rib_left_3", "rib_left_2", "rib_left_1",
                     "background", "rib_right_12"]
    assert widget.picker.list.currentItem() is widget.picker.items["rib_right_12"]
    widget.set_label("rib_left_1")
    qtbot.keyClick(canvas, Qt.Key.Key_N)  # skips rib_left_2 and 3, which have points
    assert widget.current_label == "rib_left_4"
    widget.label_panel.next_missing_button.click()
    assert widget.current_label == "rib_left_5"
    qtbot.keyClick(canvas, Qt.Key.Key_0)
    assert widget.current_label == "background"
    qtbot.keyClick(canvas, Qt.Key.Key_3)  # digits pick no rib: napari's own key (select mode) is left alone
    assert widget.current_label == "background"


def test_a_pick_relabels_the_selected_points(ribs, qtbot):
    viewer, widget = ribs
    middle = np.asarray(viewer.layers[0].data.shape) / 2
    for n, name in enumerate(["rib_left_1", "rib_left_2"]):
        widget.set_label(name)
        widget.layer.add([middle + [0, 3 * n, 0]])
    widget.layer.mode = "select"
    widget.layer.selected_data = {1}
    _click_row(qtbot, widget.picker, "rib_right_7")
    assert _saved_labels(widget) == ["rib_left_1", "rib_right_7"]
    assert widget.layer.mode == "select" and widget.counts()["rib_right_7"] == 1
    assert "rib_left_2" in [widget.label_panel.missing_list.item(n).text()
                            for n in range(widget.label_panel.missing_list.count())]


def test_a_lumbar_case_after_the_ribs_gets_buttons_and_digits_again(ribs, case_dir, qtbot):
    from pointseg.annotate.app import load_layers
    from napari.layers import Layer

    viewer, widget = ribs
    for data, meta, kind in load_layers(case_dir):
        viewer.add_layer(Layer.create(data, meta, kind))
    assert widget.label_set.name == "lumbar" and widget.labels_box.isVisible() and not widget.picker.isVisible()
    assert not widget.label_panel.missing_list.isVisible() and "L1, L2, L3, L4, L5" in widget.hint.text()
    qtbot.keyClick(_canvas(viewer), Qt.Key.Key_4)
    assert widget.current_label == "L4"


def test_screenshot_of_the_ribs_window(ribs, qtbot):
    viewer, widget = ribs
    middle = np.asarray(viewer.layers[0].data.shape) // 2
    middle[0] = viewer.dims.current_step[0]
    for n, name in enumerate(["rib_left_1", "rib_left_2", "rib_left_3", "rib_right_1", "background"]):
        widget.set_label(name)
        widget.layer.add([middle + [0, 4 * n - 8, 3 * n - 6]])
    widget.set_label("rib_left_4")
    qtbot.wait(100)
    full = viewer.screenshot(SCREENSHOT, canvas_only=False)
    assert full.shape[0] >= 900 and full.shape[1] >= 1500
    picker = widget.picker
    assert picker.list.viewport().height() >= 250  # a good part of the ribs in view without scrolling
    # nothing of the panel is cut off at the right
    assert widget.label_panel.width() <= widget.width() and widget.hint.width() > 100
