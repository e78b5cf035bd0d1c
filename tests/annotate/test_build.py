"""Build pseudo-mask from the widget: fuse in a worker thread with tiny-profile models, shown as Labels."""

from __future__ import annotations

import numpy as np
from napari.layers import Labels

from pointseg.annotate.layers import DisplayGeometry
from pointseg.simulate.clicks import ClickConfig
from pointseg.labels import get_label_set
from pointseg.simulate.cases import write_simulated_clicks
from pointseg.io.volume import read_volume


def _pseudo_layers(viewer):
    return [lay for lay in viewer.layers if isinstance(lay, Labels) and lay.metadata["pointseg"]["role"] == "pseudo"]


def _run(widget, qtbot, updates):
    worker = widget.build_pseudo_mask()
    assert worker is not None and not widget.build_button.isEnabled()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=600_000)
    assert widget.build_button.isEnabled() and not widget.progress_bar.isVisible()
    return worker


def test_build_trains_missing_models_fuses_and_shows_the_pseudo_mask(make_napari_viewer, case_dir, qtbot):
    from pointseg.annotate.app import open_annotation

    write_simulated_clicks(case_dir.parent, get_label_set(), ClickConfig(per_class=2, background=4), seed=0)
    viewer, widget = open_annotation(case_dir, viewer=make_napari_viewer())
    widget.profile_combo.setCurrentText("tiny")
    assert widget.models_edit.text() == str(case_dir.parent / "planar-runs")
    updates = []
    widget.progressed.connect(lambda *args: updates.append(args))

    _run(widget, qtbot, updates)
    assert "Pseudo-mask written" in widget.build_status.text(), widget.build_status.text()
    for axis in ("axial", "coronal", "sagittal"):
        assert (case_dir.parent / "planar-runs" / axis / "checkpoint_last.pt").exists()
    # progress reached the viewer thread while the worker ran: training steps and the prediction per axis
    descriptions = {d for d, _, _ in updates}
    assert any(d.startswith("epoch") for d in descriptions) and "predict phantom_000" in descriptions
    ct, pseudo = read_volume(case_dir / "ct.nii.gz"), read_volume(case_dir / "pseudo.nii.gz")
    assert pseudo.same_grid(ct)
    layers = _pseudo_layers(viewer)
    assert len(layers) == 1
    layer = layers[0]
    geometry = DisplayGeometry.of(ct)
    assert layer.data.shape == geometry.display_shape and np.allclose(layer.scale, geometry.scale)
    assert np.array_equal(np.sort(np.unique(layer.data)), np.sort(np.unique(pseudo.array)))
    assert layer.data.sum() == pseudo.array.astype(np.int64).sum()
    assert viewer.layers.index(layer) < viewer.layers.index(widget.layer)  # below the points
    assert viewer.layers.selection.active is widget.layer

    # a second build (after more clicks) updates the same layer instead of adding another
    widget.set_label("L3")
    widget.layer.add([np.asarray(ct.shape) * 0 + np.asarray(layer.data.shape) / 2])
    layer.data = np.zeros_like(layer.data)
    _run(widget, qtbot, updates)
    assert _pseudo_layers(viewer) == [layer] and layer.data.any()


def test_build_can_be_cancelled_and_leaves_no_pseudo_mask(make_napari_viewer, case_dir, qtbot):
    from pointseg.annotate.app import open_annotation

    write_simulated_clicks(case_dir.parent, get_label_set(), ClickConfig(per_class=1, background=2), seed=1)
    viewer, widget = open_annotation(case_dir, viewer=make_napari_viewer())
    widget.profile_combo.setCurrentText("tiny")
    widget.build_pseudo_mask()
    widget.cancel_build()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=300_000)
    assert widget.build_status.text().startswith("Cancelled")
    assert not (case_dir / "pseudo.nii.gz").exists() and not _pseudo_layers(viewer)
    assert not list(case_dir.glob("*.tmp*")) and not list(case_dir.glob(".*"))


def test_build_needs_points_and_a_case(make_napari_viewer, case_dir, tmp_path):
    from pointseg.annotate.app import open_annotation
    from pointseg.io.volume import write_nifti

    viewer, widget = open_annotation(case_dir, viewer=make_napari_viewer())
    assert widget.build_pseudo_mask() is None and "Click some points" in widget.build_status.text()
    loose = tmp_path / "loose.nii.gz"
    write_nifti(read_volume(case_dir / "ct.nii.gz"), loose)
    viewer2, widget2 = open_annotation(loose, viewer=make_napari_viewer())
    widget2.layer.add([np.asarray(viewer2.layers[0].data.shape) / 2])
    assert widget2.build_pseudo_mask() is None and "dataset case folder" in widget2.build_status.text()
    assert (tmp_path / "loose_points.csv").exists()
