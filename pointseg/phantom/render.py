"""Rasterising primitives onto the CT grid: partial volume, bone cortex and labels, blur and noise.

The ``Canvas`` holds the HU and label volumes on an axis-aligned RAS grid and is painted box by box:
each primitive only touches the voxels of its bounding box, with anti-aliased edges (the fraction of a
voxel inside the surface). ``finish`` blurs, adds noise and casts to int16.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np
from scipy import ndimage

from pointseg.phantom.geometry import Frame, Prim, smin
from pointseg.phantom.sampling import BoneDensity
from pointseg.phantom.tissue import HU_AIR


class Imaging(Protocol):
    """What ``finish`` reads of a phantom's config (``PhantomConfig``, ``UpperBodyConfig``)."""

    blur_mm: float
    noise_hu: float


class Canvas:
    """HU and label volumes on an axis-aligned RAS grid, painted box by box."""

    def __init__(self, shape, spacing, origin):
        self.shape = tuple(int(n) for n in shape)
        self.spacing = np.asarray(spacing, float)
        self.origin = np.asarray(origin, float)
        self.hu = np.full(self.shape, HU_AIR, np.float32)
        self.labels = np.zeros(self.shape, np.uint8)
        self.depth = np.full(self.shape, np.inf, np.float32)   # SDF of the bone owning each voxel
        self.texture = np.zeros((1, 1, 1), np.float32)          # periodic trabecular texture
        self.h = float(np.prod(self.spacing) ** (1.0 / 3.0))
        self.axes = [self.origin[d] + self.spacing[d] * np.arange(n) for d, n in enumerate(self.shape)]

    def affine(self) -> np.ndarray:
        """4x4 float64, voxel (i, j, k) -> world RAS millimetres."""
        aff = np.diag(np.append(self.spacing, 1.0))
        aff[:3, 3] = self.origin
        return aff

    def box(self, frame: Frame, lo, hi, pad: float):
        """Index slices covering the local box [lo, hi] (+pad), or None."""
        lo, hi = np.asarray(lo, float) - pad, np.asarray(hi, float) + pad
        corners = np.array([[(lo, hi)[(n >> d) & 1][d] for d in range(3)] for n in range(8)])
        world = frame.o + corners @ frame.R.T
        i0 = np.ceil((world.min(0) - self.origin) / self.spacing).astype(int)
        i1 = np.floor((world.max(0) - self.origin) / self.spacing).astype(int) + 1
        i0, i1 = np.maximum(i0, 0), np.minimum(i1, self.shape)
        if np.any(i1 <= i0):
            return None
        return tuple(slice(int(a), int(b)) for a, b in zip(i0, i1))

    def coords(self, frame: Frame, box):
        """Local float32 coordinates (u, v, w) of the voxels in ``box``."""
        d = [(self.axes[a][box[a]] - frame.o[a]).astype(np.float32) for a in range(3)]
        x, y, z = d[0][:, None, None], d[1][None, :, None], d[2][None, None, :]
        R = frame.R.astype(np.float32)
        return tuple(x * R[0, c] + y * R[1, c] + z * R[2, c] for c in range(3))


def alpha(d, h):
    """Partial-volume fraction of a voxel at signed distance d (mm)."""
    a = d * np.float32(-1.0 / h)
    a += np.float32(0.5)
    return np.clip(a, 0.0, 1.0, out=a)


def blend(view, alpha, value):
    """Mix ``value`` into ``view`` in place with weight ``alpha``."""
    view += alpha * (value - view)


def _union_box(boxes):
    boxes = [b for b in boxes if b is not None]
    if not boxes:
        return None
    return tuple(slice(min(b[a].start for b in boxes), max(b[a].stop for b in boxes)) for a in range(3))


def _relative(inner, outer):
    """Slices of ``inner`` relative to ``outer`` (intersected), or None."""
    out = []
    for i, o in zip(inner, outer):
        a, b = max(i.start, o.start), min(i.stop, o.stop)
        if b <= a:
            return None
        out.append(slice(a - o.start, b - o.start))
    return tuple(out)


def paint_solid(cv: Canvas, frame: Frame, items: Sequence[tuple[Prim, float]]):
    """Paint soft-tissue primitives in order with anti-aliased edges."""
    for prim, hu in items:
        box = cv.box(frame, *prim.bounds(), pad=cv.h)
        if box is None:
            continue
        d = prim.sdf(*cv.coords(frame, box))
        blend(cv.hu[box], alpha(d, cv.h), hu)


@dataclass
class Bone:
    """A bone: union of primitives with a cortical shell, painted with a label."""

    frame: Frame
    prims: list
    label: int = 0
    carve: tuple = ()
    k: float = 2.0
    element_boost: float = 0.0   # extra HU of the interior away from prims[0]


def paint_bone(cv: Canvas, bone: Bone, dens: BoneDensity):
    """Paint cortex and cancellous bone of ``bone`` and set its label."""
    pad = bone.k + 2.0 * cv.h + dens.t_cort
    boxes = [cv.box(bone.frame, *p.bounds(), pad=pad) for p in bone.prims]
    block = _union_box(boxes)
    if block is None:
        return
    d, d_main = _bone_distance(cv, bone, boxes, block)
    _carve(cv, bone, block, d)
    view = cv.hu[block]
    blend(view, alpha(d, cv.h), dens.cortical)
    inner = dens.cancellous + dens.texture * _texture(cv, block)
    if d_main is not None:
        inner += bone.element_boost * np.clip((d_main - d) / 3.0, 0.0, 1.0)
    blend(view, alpha(d + dens.t_cort, cv.h), inner)
    _claim(cv, block, d, bone.label)


def _bone_distance(cv: Canvas, bone: Bone, boxes, block):
    """Smooth union of the bone's primitives over ``block``; also prims[0] alone when it gets a boost."""
    shape = tuple(s.stop - s.start for s in block)
    d = np.full(shape, 1e3, np.float32)
    d_main = None
    for n, (prim, box) in enumerate(zip(bone.prims, boxes)):
        if box is not None:
            rel = _relative(box, block)
            dp = prim.sdf(*cv.coords(bone.frame, box))
            d[rel] = smin(d[rel], dp, bone.k)
            if n == 0 and bone.element_boost:
                d_main = np.full(shape, 1e3, np.float32)
                d_main[rel] = dp
    return d, d_main


def _carve(cv: Canvas, bone: Bone, block, d):
    """Subtract the bone's ``carve`` primitives (canal, foramina) from the distance ``d`` in place."""
    for prim in bone.carve:
        box = cv.box(bone.frame, *prim.bounds(), pad=cv.h)
        rel = None if box is None else _relative(box, block)
        if rel is not None:
            box = tuple(slice(r.start + b.start, r.stop + b.start) for r, b in zip(rel, block))
            d[rel] = np.maximum(d[rel], -prim.sdf(*cv.coords(bone.frame, box)))


def _claim(cv: Canvas, block, d, label: int):
    """Give voxels inside the bone to it unless an earlier bone is deeper there.

    Where two bones overlap (facet joints nearly touching at this resolution)
    each voxel goes to the bone whose surface is farther away, so the labels
    split along the mid-surface and stay in one piece.
    """
    depth = cv.depth[block]
    win = (d < 0) & (d < depth)
    depth[win] = d[win]
    cv.labels[block][win] = label


def _texture(cv: Canvas, block):
    """Unit-variance trabecular texture for a block, tiled from the case's cube."""
    n = cv.texture.shape
    idx = [np.arange(block[a].start, block[a].stop) % n[a] for a in range(3)]
    return cv.texture[np.ix_(*idx)]


def texture_cube(rng: np.random.Generator, spacing, n: int = 32) -> np.ndarray:
    """Periodic smooth random field (unit variance) of n^3 voxels."""
    t = rng.standard_normal((n, n, n), dtype=np.float32)
    t = ndimage.gaussian_filter(t, sigma=0.9 / np.asarray(spacing, float), mode="wrap", truncate=2.5)
    return t / np.float32(max(float(t.std()), 1e-6))


def finish(cv: Canvas, cfg: Imaging, rng: np.random.Generator) -> np.ndarray:
    """Partial-volume blur, additive noise, clip and cast to int16."""
    hu = cv.hu
    if cfg.blur_mm > 0:
        hu = ndimage.gaussian_filter(hu, sigma=float(cfg.blur_mm) / cv.spacing, truncate=3.0)
    if cfg.noise_hu > 0:
        hu += rng.standard_normal(hu.shape, dtype=np.float32) * np.float32(cfg.noise_hu)
    np.clip(hu, -1024, 3071, out=hu)
    return np.rint(hu).astype(np.int16)
