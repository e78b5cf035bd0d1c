"""The npe2 manifest, napari's discovery of the plugin, and the ``pointseg annotate`` command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pointseg.cli import main


def test_manifest_validates_with_npe2():
    npe2 = shutil.which("npe2") or str(Path(sys.executable).parent / "npe2")
    result = subprocess.run([npe2, "validate", "pointseg", "--imports"], capture_output=True, encoding="utf-8",
                            errors="replace", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stdout + result.stderr


def test_napari_finds_the_reader_writers_sample_and_widget(case_dir):
    from npe2 import PluginManager

    manager = PluginManager.instance()
    manager.discover()
    manifest = manager.get_manifest("pointseg")
    contributions = manifest.contributions
    assert [w.display_name for w in contributions.widgets] == ["Point annotation"]
    assert {tuple(w.layer_types) for w in contributions.writers} == {("points",), ("labels",)}
    assert [s.key for s in contributions.sample_data] == ["phantom_case"]
    readers = [r.plugin_name for r in manager.iter_compatible_readers([str(case_dir)])]
    assert "pointseg" in readers


def test_sample_phantom_case_is_written_once_and_opens_as_a_case(tmp_path, monkeypatch):
    from pointseg.annotate.sample import phantom_case

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    layers = phantom_case()
    assert [kind for _, _, kind in layers] == ["image", "labels", "points"]
    ct = tmp_path / "pointseg" / "sample" / "phantom_000" / "ct.nii.gz"
    stamp = ct.stat().st_mtime_ns
    assert layers[-1][1]["metadata"]["pointseg"]["points_path"] == str(ct.parent / "points.csv")
    phantom_case()
    assert ct.stat().st_mtime_ns == stamp  # kept, so clicks on the sample come back next time


def test_annotate_command_opens_the_case_with_the_widget_docked(case_dir, monkeypatch, make_napari_viewer):
    import napari

    monkeypatch.setattr(napari, "run", lambda *args, **kwargs: None)
    monkeypatch.setattr(napari, "Viewer", make_napari_viewer)  # the fixture's viewers are isolated and cleaned up
    assert main(["annotate", str(case_dir), "--quiet"]) == 0
    viewer = napari.current_viewer()
    try:
        assert [type(lay).__name__ for lay in viewer.layers] == ["Image", "Labels", "Points"]
        assert "Point annotation" in viewer.window.dock_widgets
        widget = viewer.window.dock_widgets["Point annotation"]
        assert widget.points_path == case_dir / "points.csv"
    finally:
        viewer.close()


@pytest.mark.parametrize("make_input, message", [
    (lambda tmp: tmp / "missing", "no such file or folder"),
    (lambda tmp: (tmp / "notes.txt").write_text("hello") and tmp / "notes.txt", "not a case folder"),
    (lambda tmp: (tmp / "broken.nii.gz").write_bytes(b"\x1f\x8b nope") and tmp / "broken.nii.gz", "cannot read image"),
])
def test_annotate_rejects_bad_input_in_one_line(tmp_path, make_input, message):
    path = make_input(tmp_path)
    result = subprocess.run([sys.executable, "-m", "pointseg", "annotate", str(path)], capture_output=True,
                            encoding="utf-8", errors="replace", timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and message in result.stderr and str(path.name) in result.stderr


def test_annotate_rejects_a_broken_points_file(case_dir):
    (case_dir / "points.csv").write_text("label,i,j,k\nL9,1,2,3\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "pointseg", "annotate", str(case_dir)], capture_output=True,
                            encoding="utf-8", errors="replace", timeout=300)
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0
    assert "points.csv" in result.stderr and "L9" in result.stderr


def test_annotate_without_a_display_says_so(case_dir):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run([sys.executable, "-m", "pointseg", "annotate", str(case_dir)], capture_output=True,
                            encoding="utf-8", errors="replace", env=env, timeout=300)
    assert result.returncode == 2 and "no display" in result.stderr and "Traceback" not in result.stderr


def test_the_plugin_imports_without_torch():
    code = ("import sys, pointseg.annotate.app, pointseg.annotate.reader, pointseg.annotate.sample, "
            "pointseg.annotate.widget, pointseg.annotate.writer; "
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, encoding="utf-8", errors="replace",
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "False"


def test_napari_opens_a_case_through_the_plugin_and_docks_the_widget(make_napari_viewer, case_dir):
    viewer = make_napari_viewer()
    layers = viewer.open(str(case_dir), plugin="pointseg")
    assert [type(layer).__name__ for layer in layers] == ["Image", "Labels", "Points"]
    _, widget = viewer.window.add_plugin_dock_widget("pointseg", "Point annotation")
    assert widget.layer is layers[-1] and widget.points_path == case_dir / "points.csv"
    widget.set_label("L2")
    widget.layer.add([[s / 2 for s in layers[0].data.shape]])
    assert (case_dir / "points.csv").read_text(encoding="utf-8").splitlines()[1].startswith("L2,")


def test_annotate_uses_the_label_set_it_is_given(case_dir, monkeypatch, make_napari_viewer, capsys):
    import napari

    monkeypatch.setattr(napari, "run", lambda *args, **kwargs: None)
    monkeypatch.setattr(napari, "Viewer", make_napari_viewer)
    (case_dir / "points.csv").write_text("label,i,j,k\nL6,10,12,14\n", encoding="utf-8")
    assert main(["annotate", str(case_dir)]) == 2  # lumbar has no L6
    assert "L6" in capsys.readouterr().err
    assert main(["annotate", str(case_dir), "--labels", "lumbar6"]) == 0
    viewer = napari.current_viewer()
    try:
        widget = viewer.window.dock_widgets["Point annotation"]
        assert widget.label_set.name == "lumbar6" and widget.counts()["L6"] == 1
        assert "1–6" in widget.labels_box.title()
        assert "POINTSEG_LABELS" not in os.environ  # handed to the reader, not through the environment
    finally:
        viewer.close()


def test_napari_reader_opens_a_case_in_the_label_set_of_its_points(make_napari_viewer, case_dir):
    from pointseg.annotate.reader import read_path
    from pointseg.errors import InputError
    from pointseg.labels import get_label_set

    (case_dir / "points.csv").write_text("label,i,j,k\nL2,10,12,14\nL6,11,12,14\n", encoding="utf-8")
    with pytest.raises(InputError, match="L6"):
        read_path(case_dir, label_set=get_label_set("lumbar"))  # a label set given is the one used
    viewer = make_napari_viewer()
    layers = viewer.open(str(case_dir), plugin="pointseg")  # napari's File > Open passes no label set
    assert layers[-1].metadata["pointseg"]["label_set"] == "lumbar6"
    _, widget = viewer.window.add_plugin_dock_widget("pointseg", "Point annotation")
    assert widget.counts()["L6"] == 1 and widget.label_set.name == "lumbar6"
    (case_dir / "points.csv").unlink()
    assert viewer.open(str(case_dir), plugin="pointseg")[-1].metadata["pointseg"]["label_set"] == "lumbar"
