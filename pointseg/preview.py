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
import tempfile

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from nibabel.orientations import apply_orientation, axcodes2ornt, io_orientation, ornt_transform

__all__ = ["save_preview"]

WINDOW_HU = (-450.0, 1050.0)
_COLOURS = np.array([
    (0.90, 0.10, 0.10), (1.00, 0.55, 0.00), (0.95, 0.90, 0.10), (0.15, 0.80, 0.20),
    (0.10, 0.70, 0.95), (0.35, 0.30, 0.95), (0.85, 0.25, 0.85), (0.60, 0.40, 0.20),
])
_NAMES = {1: "L1", 2: "L2", 3: "L3", 4: "L4", 5: "L5"}


def save_preview(ct: np.ndarray, labels: np.ndarray | None, affine: np.ndarray,
                 path: str | os.PathLike, title: str = "") -> None:
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
    """
    vol, lab, spacing = _to_ras(ct, labels, affine)
    centre = _plane_centre(vol.shape, lab)
    panels = _panels(vol, lab, spacing, centre)
    fig = _figure(panels, lab, title)
    _save_atomic(fig, path)


def _to_ras(ct, labels, affine):
    """Reorient volumes to RAS array order; return them and the RAS spacing (mm)."""
    affine = np.asarray(affine, float)
    ornt = io_orientation(affine)
    transform = ornt_transform(ornt, axcodes2ornt("RAS"))
    zooms = np.linalg.norm(affine[:3, :3], axis=0)
    spacing = np.empty(3)
    for src, (dst, _flip) in enumerate(ornt):
        spacing[int(dst)] = zooms[src]
    vol = apply_orientation(np.asarray(ct), transform)
    lab = None if labels is None else apply_orientation(np.asarray(labels), transform)
    if lab is not None and lab.shape != vol.shape:
        raise ValueError(f"labels shape {lab.shape} differs from ct shape {vol.shape}")
    return vol, lab, spacing


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


def _overlay(lab2d):
    """RGBA image of the labels (transparent background)."""
    rgba = np.zeros(lab2d.shape + (4,), np.float32)
    mask = lab2d > 0
    rgba[mask, :3] = _COLOURS[(lab2d[mask].astype(int) - 1) % len(_COLOURS)]
    rgba[mask, 3] = 0.35
    return rgba


def _figure(panels, lab, title):
    widths = [img.shape[1] / aspect / img.shape[0] for _, img, _, aspect in panels]
    fig = Figure(figsize=(4.2 * sum(widths) + 1.0, 5.6), facecolor="black")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": widths})
    for ax, (name, img, limg, aspect) in zip(axes, panels):
        ax.imshow(img, cmap="gray", vmin=WINDOW_HU[0], vmax=WINDOW_HU[1], aspect=aspect,
                  interpolation="nearest")
        if limg is not None and np.any(limg > 0):
            ax.imshow(_overlay(limg), aspect=aspect, interpolation="nearest")
        ax.set_title(name, color="white", fontsize=9)
        ax.set_axis_off()
    if lab is not None:
        shown = sorted(set(_NAMES) | {int(v) for v in np.unique(lab) if v > 0})
        handles = [Patch(color=_COLOURS[(v - 1) % len(_COLOURS)], label=_NAMES.get(v, f"label {v}"))
                   for v in shown]
        if handles:
            fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False,
                       labelcolor="white", fontsize=9)
    if title:
        fig.suptitle(title, color="white", fontsize=10)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.9, bottom=0.08, wspace=0.03)
    return fig


def _save_atomic(fig, path):
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".preview-", suffix=".png", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, format="png", dpi=110, facecolor=fig.get_facecolor())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
