"""PNG montage of a CT volume with optional vertebra labels.

Three panels: mid-sagittal, coronal through the spine and axial through the
middle labelled vertebra, in radiological display convention (sagittal:
superior up, anterior left; coronal: superior up, patient's right on the image
left; axial: anterior up, patient's right on the image left), bone window
-450..1050 HU, physical aspect ratio, labels as semi-transparent colours.
Any affine orientation is accepted; the volume is reoriented to RAS first.
"""

from __future__ import annotations

import os

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from pointseg.io.atomic import atomic_path
from pointseg.imaging.hu import BONE_WINDOW_HU
from pointseg.labels import LabelSet, get_label_set
from pointseg.io.volume import Volume
from pointseg.io.grid import reorient

__all__ = ["save_preview"]

WINDOW_HU = BONE_WINDOW_HU
LEGEND_MAX = 12  # more classes than this get a one-line note instead of a legend


def save_preview(ct: np.ndarray, labels: np.ndarray | None, affine: np.ndarray,
                 path: str | os.PathLike, title: str = "", label_set: LabelSet | None = None) -> None:
    """Write a three-panel PNG preview of a CT volume.

    Parameters
    ----------
    ct : np.ndarray
        HU volume, shape (I, J, K), any numeric dtype.
    labels : np.ndarray or None
        Integer label volume of the same shape (1..5 = L1..L5), or None.
    affine : np.ndarray
        4x4 voxel -> world (RAS mm) affine of any orientation.
    path : str or os.PathLike
        Output PNG path; written atomically (temporary file + ``os.replace``).
    title : str
        Figure title.
    label_set : LabelSet, optional
        Names and colours of the labels (default ``lumbar``).
    """
    label_set = label_set or get_label_set()
    if labels is not None and labels.shape != ct.shape:
        raise ValueError(f"labels shape {labels.shape} differs from ct shape {ct.shape}")
    canonical, _ = reorient(Volume(np.asarray(ct), affine))
    lab = None if labels is None else reorient(Volume(np.asarray(labels), affine))[0].array
    centre = _plane_centre(canonical.shape, lab)
    panels = _panels(canonical.array, lab, canonical.spacing, centre)
    fig = _figure(panels, lab, title, label_set)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, facecolor=fig.get_facecolor())


def _plane_centre(shape, lab):
    """Voxel (i, j, k) for the planes: label centroid, axial at the middle vertebra."""
    centre = [n // 2 for n in shape]
    if lab is None or not np.any(lab > 0):
        return centre
    idx = np.nonzero(lab > 0)
    centre[0], centre[1] = (int(round(float(np.mean(a)))) for a in idx[:2])
    present = np.unique(lab[lab > 0])
    middle = present[len(present) // 2]
    centre[2] = int(round(float(np.mean(np.nonzero(lab == middle)[2]))))
    return centre


def _panels(vol, lab, spacing, centre):
    """(name, image, label image, aspect) in display orientation for the 3 planes."""
    i, j, k = centre

    def cut(a):
        if a is None:
            return None, None, None
        return a[i, ::-1, ::-1].T, a[::-1, j, ::-1].T, a[::-1, ::-1, k].T

    sag, cor, axi = cut(vol)
    lsag, lcor, laxi = cut(lab)
    sx, sy, sz = spacing
    return [("sagittal (A left)", sag, lsag, sz / sy),
            ("coronal (R left)", cor, lcor, sz / sx),
            ("axial (A up, R left)", axi, laxi, sy / sx)]


def _colours(label_set: LabelSet) -> np.ndarray:
    """RGB in 0..1 per label id."""
    return np.array([label_set.color_of(name) for name in label_set.names], dtype=np.float32) / 255.0


def _overlay(lab2d, colours):
    """RGBA image of the labels (transparent background)."""
    rgba = np.zeros(lab2d.shape + (4,), np.float32)
    mask = lab2d > 0
    rgba[mask, :3] = colours[np.clip(lab2d[mask].astype(int), 0, len(colours) - 1)]
    rgba[mask, 3] = 0.35
    return rgba


def _figure(panels, lab, title, label_set: LabelSet):
    colours = _colours(label_set)
    widths = [img.shape[1] / aspect / img.shape[0] for _, img, _, aspect in panels]
    fig = Figure(figsize=(4.2 * sum(widths) + 1.0, 5.6), facecolor="black")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": widths})
    for ax, (name, img, limg, aspect) in zip(axes, panels):
        ax.imshow(img, cmap="gray", vmin=WINDOW_HU[0], vmax=WINDOW_HU[1], aspect=aspect,
                  interpolation="nearest")
        if limg is not None and np.any(limg > 0):
            ax.imshow(_overlay(limg, colours), aspect=aspect, interpolation="nearest")
        ax.set_title(name, color="white", fontsize=9)
        ax.set_axis_off()
    if lab is not None:
        handles = [Patch(color=colours[v], label=label_set.names[v]) for v in range(1, label_set.num_classes)]
        if 0 < len(handles) <= LEGEND_MAX:
            fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False,
                       labelcolor="white", fontsize=9)
        elif handles:  # too many names for one line: say what the colours are instead
            fig.text(0.5, 0.02, f"{len(handles)} structures of the label set {label_set.name!r}, each its own colour",
                     color="white", fontsize=9, ha="center")
    if title:
        fig.suptitle(title, color="white", fontsize=10)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.9, bottom=0.08, wspace=0.03)
    return fig

