"""The widget's *View* box: the axial, coronal and sagittal planes of the 2D view and the CT window presets."""

from __future__ import annotations

from typing import Callable

from napari.layers import Image, Points
from qtpy.QtWidgets import QComboBox, QGroupBox, QHBoxLayout, QPushButton, QVBoxLayout

from pointseg.annotate.layers import layer_meta
from pointseg.annotate.views import VIEW_ORDERS, WINDOWS


def show_overlays(viewer) -> None:
    """The scale bar (mm) on the canvas."""
    overlays = getattr(getattr(viewer, "canvas", None), "overlays", None)
    if overlays is not None and "scale_bar" in overlays:
        overlays["scale_bar"].visible = True
    else:  # napari before 0.9
        viewer.scale_bar.visible = True


class ViewBox(QGroupBox):
    """Plane buttons and the window preset; ``points_layer`` gives the case's points layer (or None)."""

    def __init__(self, viewer, points_layer: Callable[[], Points | None], parent=None):
        super().__init__("View", parent)
        self.viewer = viewer
        self._points_layer = points_layer
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        for name in VIEW_ORDERS:
            button = QPushButton(name.capitalize())
            button.clicked.connect(lambda _=False, n=name: self.show_view(n))
            row.addWidget(button)
        layout.addLayout(row)
        self.window_combo = QComboBox()
        self.window_combo.addItems(list(WINDOWS))
        self.window_combo.currentTextChanged.connect(self.set_window)
        layout.addWidget(self.window_combo)

    def show_view(self, name: str) -> None:
        """Show the axial, coronal or sagittal plane in the 2D view."""
        self.viewer.dims.ndisplay = 2
        self.viewer.dims.order = VIEW_ORDERS[name]
        self.viewer.reset_view()

    def ct_layer(self) -> Image | None:
        """The CT of the case being annotated (the last CT opened when no case is)."""
        points = self._points_layer()
        ct_path = layer_meta(points).get("ct_path") if points is not None else None
        images = [lay for lay in self.viewer.layers if isinstance(lay, Image) and layer_meta(lay).get("role") == "ct"]
        for layer in images:
            if ct_path and layer_meta(layer).get("path") == ct_path:
                return layer
        return images[-1] if images else None

    def set_window(self, preset: str) -> None:
        """Apply a CT window preset (a key of :data:`~pointseg.annotate.views.WINDOWS`) to the case's CT layer."""
        layer = self.ct_layer()
        if layer is None or preset not in WINDOWS:
            return
        low, high = WINDOWS[preset]
        current = layer.contrast_limits_range
        layer.contrast_limits_range = (min(low, current[0]), max(high, current[1]))
        layer.contrast_limits = (low, high)
        if self.window_combo.currentText() != preset:
            self.window_combo.setCurrentText(preset)
