"""``pointseg annotate``: a napari viewer with the annotation widget docked and a case (or CT) open."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pointseg.annotate.reader import opens, read_path
from pointseg.errors import InputError
from pointseg.labels import DEFAULT_LABEL_SET, get_label_set


def load_layers(path: str | os.PathLike, labels: str = DEFAULT_LABEL_SET) -> list[tuple]:
    """Read everything ``path`` opens (points with the label set ``labels``) before any window appears, so
    bad input is a one-line error."""
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or folder", path)
    if not opens(path):
        raise InputError("not a case folder (with ct.nii.gz), a CT file (.nii, .nii.gz, .nrrd, .mha) "
                         "or a DICOM series folder", path)
    return read_path(path, label_set=get_label_set(labels))


def preload_training() -> None:
    """Import PyTorch and the training code now, before the window opens.

    *Build pseudo-mask* needs them in its worker thread; importing a large extension module there holds
    the interpreter lock for seconds and would freeze the viewer once, at the first build.
    """
    from pointseg.annotate.build_panel import keep_triton_out

    keep_triton_out()
    import torch._dynamo  # noqa: F401  (the optimiser imports it lazily)

    import pointseg.annotate.build  # noqa: F401
    import pointseg.pseudo.pipeline  # noqa: F401
    import pointseg.train.planar  # noqa: F401


def open_annotation(path: str | os.PathLike | None = None, viewer=None, labels: str = DEFAULT_LABEL_SET,
                    layers: list[tuple] | None = None):
    """Dock the widget in ``viewer`` (a new one by default) and open ``path`` (or the ``layers`` already
    read from it by :func:`load_layers`); returns (viewer, widget)."""
    import napari
    from napari.layers import Layer

    from pointseg.annotate.widget import AnnotationWidget

    if layers is None:
        layers = load_layers(path, labels) if path is not None else []
    if viewer is None:
        viewer = napari.Viewer(title=f"pointseg annotate — {Path(path).name}" if path else "pointseg annotate")
    widget = AnnotationWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Point annotation", area="right")
    for data, meta, kind in layers:
        viewer.add_layer(Layer.create(data, meta, kind))
    widget.show_view("axial")
    if widget.layer is not None and len(widget.layer.data):
        last = np.asarray(widget.layer.data)[-1]  # carry on where the last click was made
        viewer.dims.set_point(0, float(last[0]) * widget.layer.scale[0])
    return viewer, widget
