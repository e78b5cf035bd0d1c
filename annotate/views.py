"""View presets as plain data: the planes of the 2D view and the CT windows.

Layers are shown in the display orientation ``IPL`` (:mod:`pointseg.annotate.layers`), so a plane is a
napari axis order: the axial view is the radiological one (anterior up, patient right on screen left), the
coronal and sagittal views have the head up.
"""

from __future__ import annotations

from pointseg.imaging.hu import BONE_WINDOW_HU, SOFT_TISSUE_WINDOW_HU

VIEW_ORDERS = {"axial": (0, 1, 2), "coronal": (1, 0, 2), "sagittal": (2, 0, 1)}


def _window_name(name: str, window: tuple[float, float]) -> str:
    return f"{name} ({window[0]:g}…{window[1]:g} HU)".replace("-", "−")


WINDOWS = {  # CT window presets: (low, high) HU
    _window_name("Bone", BONE_WINDOW_HU): BONE_WINDOW_HU,
    _window_name("Soft tissue", SOFT_TISSUE_WINDOW_HU): SOFT_TISSUE_WINDOW_HU,
}
BONE_WINDOW = BONE_WINDOW_HU
