"""Synthetic lumbar-spine CT phantom with L1..L5 labels.

The phantom is built from signed-distance primitives (vertebral bodies, oriented
rounded boxes, capsules, elliptic cylinders, ellipsoids) placed along a curved
spine centreline, rasterised with anti-aliased edges (partial volume), blurred
and made noisy.  It is meant to be hard in the ways real CT is hard: neighbouring
vertebrae look alike and nearly touch at the facet joints, T12 (with ribs) and the
sacrum/ilium are bony but unlabelled, the aorta can be bright with contrast, the
field of view may cut L1 or L5, and every case has its own size, curvature,
position and densities.

Geometry
--------
The volume is in RAS+ orientation with a positive diagonal affine: increasing
``i`` goes toward the patient's Right, ``j`` toward Anterior, ``k`` toward
Superior.  World coordinates are millimetres with the centre of L3 near the
origin (displaced by up to 15 mm per case).

HU values (before blur and noise)
---------------------------------
=========================  =======================================
air                        -1000
bowel gas                  -900
subcutaneous fat           -100
intra-abdominal fat        -90
epidural fat               -80
renal sinus fat            -60
CSF / dural sac            15
bowel, stomach content     25-30
skin                       40
muscle                     40-60 (per case)
blood (aorta, IVC)         40; with contrast aorta 150-250, IVC ~110
kidney                     35; with contrast ~150
liver / spleen             55 / 45; with contrast ~100 / ~110
intervertebral disc        80
cancellous bone            150-300 (per case) + trabecular texture
cortical bone              700-1200 (per case), shell 1.5-2 mm
=========================  =======================================

Labels: 0 background, 1..5 = L1..L5.  A voxel carries label ``n`` exactly when
its centre lies inside the bone (cortex or cancellous) of that vertebra and no
other bone was drawn over it.  T11, T12, ribs, sacrum and ilium are bone with
label 0.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np
from scipy import ndimage

__all__ = ["PhantomConfig", "Phantom", "make_phantom", "LABEL_NAMES"]

LABEL_NAMES = {1: "L1", 2: "L2", 3: "L3", 4: "L4", 5: "L5"}

# --------------------------------------------------------------------------- HU
HU_AIR = -1000.0
HU_GAS = -900.0
HU_SUBCUT_FAT = -100.0
HU_VISCERAL_FAT = -90.0
HU_EPIDURAL_FAT = -80.0
HU_SINUS_FAT = -60.0
HU_CSF = 15.0
HU_BOWEL = 30.0
HU_STOMACH = 25.0
HU_SKIN = 40.0
HU_BLOOD = 40.0
HU_KIDNEY = 35.0
HU_LIVER = 55.0
HU_SPLEEN = 45.0
HU_DISC = 80.0

# Per level: body semi-width a, semi-depth b, body height, disc below, canal
# half-width, pedicle half-width, TP tip distance from midline, TP backward
# offset, spinous length, spinous half-height, facet angle to sagittal (deg).
_LEVEL_TABLE = {
    "T11": (17.5, 14.0, 22.0, 7.0, 8.5, 3.5, 30.0, 16.0, 28.0, 8.0, 15.0),
    "T12": (19.0, 14.5, 23.5, 8.0, 9.0, 3.5, 24.0, 10.0, 28.0, 8.5, 20.0),
    "L1": (20.5, 15.0, 25.0, 9.0, 10.5, 3.5, 32.0, 10.0, 30.0, 9.0, 25.0),
    "L2": (22.0, 15.8, 26.5, 10.0, 11.0, 4.0, 38.0, 10.0, 31.0, 10.0, 30.0),
    "L3": (23.5, 16.5, 27.5, 11.0, 11.5, 4.5, 44.0, 9.0, 31.0, 10.0, 35.0),
    "L4": (25.0, 17.2, 28.5, 11.5, 12.0, 5.5, 41.0, 8.0, 29.0, 9.5, 42.0),
    "L5": (26.0, 18.0, 29.0, 10.0, 12.5, 7.0, 38.0, 6.0, 24.0, 7.5, 48.0),
}
_LEVELS = tuple(_LEVEL_TABLE)            # T11 .. L5, superior to inferior
_LABEL_OF = {"L1": 1, "L2": 2, "L3": 3, "L4": 4, "L5": 5}
_FOV_Y_CENTRE = -5.0                     # mm, world A-P centre of the field of view
_FOV_Z_CENTRE = -15.0                    # mm, world S-I centre of the field of view


# ------------------------------------------------------------------ public API
@dataclass(frozen=True)
class PhantomConfig:
    """Settings of the synthetic CT.

    Attributes
    ----------
    spacing : tuple of 3 float
        Voxel size in mm along array axes (i, j, k) = (R-L, A-P, S-I).
    fov_mm : tuple of 3 float
        Field of view in mm along R-L, A-P, S-I; the shape is
        ``round(fov_mm / spacing)`` (less along S-I when the FOV is cut).
    noise_hu : float
        Standard deviation of the additive Gaussian noise, in HU.
    blur_mm : float
        Sigma of the Gaussian partial-volume blur, in mm.
    fov_cut_prob : float
        Probability that the S-I field of view cuts through L1 or L5.
    variation : float
        Spread between cases: 0 gives the mean anatomy, 1 the default spread.
    """

    spacing: tuple[float, float, float] = (1.5, 1.5, 1.5)
    fov_mm: tuple[float, float, float] = (280.0, 220.0, 250.0)
    noise_hu: float = 20.0
    blur_mm: float = 0.7
    fov_cut_prob: float = 0.3
    variation: float = 1.0


@dataclass
class Phantom:
    """One synthetic case.

    Attributes
    ----------
    ct : np.ndarray
        int16 Hounsfield units, shape (I, J, K), RAS+ array axes.
    labels : np.ndarray
        uint8, shape (I, J, K); 0 background, 1..5 = L1..L5.
    affine : np.ndarray
        4x4 float64, voxel (i, j, k) -> world RAS millimetres.
    params : dict
        JSON-serialisable record of the random parameters of this case.
    """

    ct: np.ndarray
    labels: np.ndarray
    affine: np.ndarray
    params: dict


def make_phantom(seed: int, config: PhantomConfig = PhantomConfig()) -> Phantom:
    """Generate one synthetic lumbar CT.

    Parameters
    ----------
    seed : int
        Seed of ``np.random.default_rng``; the same seed and config give
        identical arrays.
    config : PhantomConfig
        Spacing (mm), field of view (mm), noise (HU), blur (mm) and variation.

    Returns
    -------
    Phantom
        ``ct`` int16 HU and ``labels`` uint8 of shape (I, J, K) with
        I, J, K = round(fov_mm / spacing) (K smaller when the FOV is cut),
        ``affine`` 4x4 voxel -> RAS mm, ``params`` the drawn parameters.
    """
    rng = np.random.default_rng(seed)
    p = _draw_params(rng, config)
    lay = _layout(p)
    canvas = _make_canvas(config, lay, p)
    _paint_torso(canvas, lay, p)
    _paint_viscera(canvas, lay, p)
    _paint_spine_soft_tissue(canvas, lay, p)
    _paint_pelvis_soft_tissue(canvas, lay, p)
    _paint_bones(canvas, lay, p, rng)
    ct = _finish(canvas, config, rng)
    p["seed"] = int(seed)
    p["shape"] = [int(n) for n in ct.shape]
    return Phantom(ct=ct, labels=canvas.labels, affine=canvas.affine(), params=p)


# ------------------------------------------------------------ SDF primitives
def _sd_ellipse(u, v, a, b):
    """Approximate signed distance (mm) to an ellipse with semi-axes a, b.

    Uses k0 (k0 - 1) / k1 with k0 = |p / r| and k1 = |p / r^2|, which is
    accurate near the boundary; small epsilons make the centre come out as
    -min(a, b) instead of 0/0.  Works in place on float32 temporaries.
    """
    ua = np.divide(u, a, dtype=np.float32)
    vb = np.divide(v, b, dtype=np.float32)
    k1 = ua / a
    k1 *= k1
    t = vb / b
    t *= t
    k1 += t
    np.sqrt(k1, out=k1)
    k1 += 1e-6 / np.minimum(a, b)
    ua *= ua
    vb *= vb
    ua += vb
    np.sqrt(ua, out=ua)                     # k0
    d = ua - 1.0
    ua += 1e-6
    d *= ua
    d /= k1
    return d


def _extrude(d2, dz):
    """Exact extrusion of a 2-D distance d2 with the slab distance dz."""
    out = np.sqrt(np.maximum(d2, 0.0) ** 2 + np.maximum(dz, 0.0) ** 2)
    return out + np.minimum(np.maximum(d2, dz), 0.0)


def _round2(q1, q2, r):
    """Intersection of two slab distances with corners rounded by r (mm)."""
    q1, q2 = q1 + r, q2 + r
    out = np.sqrt(np.maximum(q1, 0.0) ** 2 + np.maximum(q2, 0.0) ** 2)
    return out + np.minimum(np.maximum(q1, q2), 0.0) - r


def _smin(a, b, k):
    """Polynomial smooth minimum with blend radius k (mm)."""
    if k <= 0:
        return np.minimum(a, b)
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


def _project(u, v, w, center, axes):
    """Coordinates of (u, v, w) relative to center in the columns of axes."""
    pu, pv, pw = u - center[0], v - center[1], w - center[2]
    if axes is None:
        return pu, pv, pw
    return tuple(pu * axes[0][c] + pv * axes[1][c] + pw * axes[2][c] for c in range(3))


class _Prim:
    """A primitive: ``sdf(u, v, w)`` in mm and local ``bounds()`` (lo, hi)."""

    def sdf(self, u, v, w):  # pragma: no cover - interface
        raise NotImplementedError

    def bounds(self):  # pragma: no cover - interface
        raise NotImplementedError


class _Box(_Prim):
    """Rounded box; ``axes`` columns are the box axes in the parent frame."""

    def __init__(self, center, half, r=0.0, axes=None):
        self.c = tuple(float(x) for x in center)
        self.half = tuple(float(x) for x in half)
        self.r = float(min(r, *half))
        self.axes = None if axes is None else np.asarray(axes, float).tolist()

    def sdf(self, u, v, w):
        q = [np.abs(x) - (h - self.r) for x, h in zip(_project(u, v, w, self.c, self.axes), self.half)]
        out = np.sqrt(sum(np.maximum(x, 0.0) ** 2 for x in q))
        return out + np.minimum(np.maximum(np.maximum(q[0], q[1]), q[2]), 0.0) - self.r

    def bounds(self):
        ext = np.asarray(self.half) if self.axes is None else np.abs(np.asarray(self.axes)) @ np.asarray(self.half)
        return np.asarray(self.c) - ext, np.asarray(self.c) + ext


def _box_between(p0, p1, half_side, half_up, r=1.5, up=(0.0, 0.0, 1.0)):
    """Rounded box from p0 to p1 with cross-section half sizes (side, up)."""
    p0, p1, up = (np.asarray(x, float) for x in (p0, p1, up))
    e1 = p1 - p0
    length = float(np.linalg.norm(e1))
    e1 /= length
    e3 = up - np.dot(up, e1) * e1
    e3 /= np.linalg.norm(e3)
    e2 = np.cross(e3, e1)
    axes = np.stack([e1, e2, e3], axis=1)
    return _Box((p0 + p1) / 2, (length / 2 + half_side * 0.5, half_side, half_up), r, axes)


class _Capsule(_Prim):
    """Tapered capsule from a (radius r0) to b (radius r1)."""

    def __init__(self, a, b, r0, r1=None):
        self.a = np.asarray(a, float)
        self.b = np.asarray(b, float)
        self.r0, self.r1 = float(r0), float(r0 if r1 is None else r1)

    def sdf(self, u, v, w):
        ba = (self.b - self.a).tolist()
        pa = (u - float(self.a[0]), v - float(self.a[1]), w - float(self.a[2]))
        h = (pa[0] * ba[0] + pa[1] * ba[1] + pa[2] * ba[2]) / max(sum(x * x for x in ba), 1e-9)
        h = np.clip(h, 0.0, 1.0)
        dist = np.sqrt(sum((pa[c] - ba[c] * h) ** 2 for c in range(3)))
        return dist - (self.r0 + (self.r1 - self.r0) * h)

    def bounds(self):
        r = max(self.r0, self.r1)
        return np.minimum(self.a, self.b) - r, np.maximum(self.a, self.b) + r


class _Ellipsoid(_Prim):
    """Ellipsoid (approximate SDF) with semi-axes ``radii`` along ``axes``."""

    def __init__(self, center, radii, axes=None):
        self.c = tuple(float(x) for x in center)
        self.r = tuple(float(x) for x in radii)
        self.axes = None if axes is None else np.asarray(axes, float).tolist()

    def sdf(self, u, v, w):
        q = _project(u, v, w, self.c, self.axes)
        k0 = np.sqrt(sum((x / r) ** 2 for x, r in zip(q, self.r)))
        k1 = np.sqrt(sum((x / (r * r)) ** 2 for x, r in zip(q, self.r)))
        d = k0 * (k0 - 1.0) / np.maximum(k1, 1e-6)
        return np.where(k1 > 1e-6, d, -min(self.r))

    def bounds(self):
        ext = np.asarray(self.r) if self.axes is None else np.abs(np.asarray(self.axes)) @ np.asarray(self.r)
        return np.asarray(self.c) - ext, np.asarray(self.c) + ext


class _EllCyl(_Prim):
    """Elliptic cylinder along w: centre (cu, cv), semi-axes a, b, w in [w0, w1]."""

    def __init__(self, cu, cv, a, b, w0, w1):
        self.cu, self.cv, self.a, self.b = float(cu), float(cv), float(a), float(b)
        self.w0, self.w1 = float(w0), float(w1)

    def sdf(self, u, v, w):
        d2 = _sd_ellipse(u - self.cu, v - self.cv, self.a, self.b)
        return _extrude(d2, np.abs(w - 0.5 * (self.w0 + self.w1)) - 0.5 * (self.w1 - self.w0))

    def bounds(self):
        return (np.array([self.cu - self.a, self.cv - self.b, self.w0]),
                np.array([self.cu + self.a, self.cv + self.b, self.w1]))


class _Body(_Prim):
    """Vertebral body or disc: kidney-shaped elliptic cylinder with a waist.

    Centred at (0, 0, wc); semi-axes a (R-L), b (A-P), half height hh.
    ``waist`` > 0 narrows the middle (negative bulges, for discs), ``notch`` is
    the depth of the posterior concavity, ``concave`` the endplate concavity.
    """

    def __init__(self, wc, a, b, hh, waist=0.08, notch=2.0, rnd=1.5, concave=1.0):
        self.wc, self.a, self.b, self.hh = float(wc), float(a), float(b), float(hh)
        self.waist, self.notch, self.rnd, self.concave = float(waist), float(notch), float(rnd), float(concave)

    def sdf(self, u, v, w):
        wl = w - self.wc
        t = np.clip(wl / self.hh, -1.0, 1.0)
        s = 1.0 - self.waist * (1.0 - t * t)
        bb = np.where(v > 0, np.float32(self.b), np.float32(1.3 * self.b)) * s
        d2 = np.maximum(_sd_ellipse(u, v, self.a * s, bb), -self.b * s - v)
        rc = 0.45 * self.a
        vc = -self.b - rc + self.notch
        d2 = np.maximum(d2, rc - np.sqrt(u * u + (v - vc) ** 2))
        r2 = np.clip(1.0 - (u / self.a) ** 2 - (v / self.b) ** 2, 0.0, 1.0)
        dz = np.abs(wl) - (self.hh - self.concave * r2)
        return _extrude(d2 + self.rnd, dz + self.rnd) - self.rnd

    def bounds(self):
        m = max(1.0, 1.0 - self.waist)
        return (np.array([-self.a * m, -self.b * m, self.wc - self.hh]),
                np.array([self.a * m, self.b * m, self.wc + self.hh]))


class _Fn(_Prim):
    """Primitive from a function and explicit local bounds."""

    def __init__(self, fn: Callable, lo, hi):
        self.fn, self.lo, self.hi = fn, np.asarray(lo, float), np.asarray(hi, float)

    def sdf(self, u, v, w):
        return self.fn(u, v, w)

    def bounds(self):
        return self.lo, self.hi


class _Clip(_Prim):
    """Intersection of ``prim`` with ``clip`` (bounds of ``prim``)."""

    def __init__(self, prim: _Prim, clip: _Prim):
        self.prim, self.clip = prim, clip

    def sdf(self, u, v, w):
        return np.maximum(self.prim.sdf(u, v, w), self.clip.sdf(u, v, w))

    def bounds(self):
        return self.prim.bounds()


# ---------------------------------------------------------- frames and canvas
@dataclass
class _Frame:
    """Local frame: world = o + R @ local (columns of R: u, v, w axes)."""

    o: np.ndarray
    R: np.ndarray


def _rot(axis: int, deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    m = np.eye(3)
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


class _Canvas:
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
        aff = np.diag(np.append(self.spacing, 1.0))
        aff[:3, 3] = self.origin
        return aff

    def box(self, frame: _Frame, lo, hi, pad: float):
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

    def coords(self, frame: _Frame, box):
        """Local float32 coordinates (u, v, w) of the voxels in ``box``."""
        d = [(self.axes[a][box[a]] - frame.o[a]).astype(np.float32) for a in range(3)]
        x, y, z = d[0][:, None, None], d[1][None, :, None], d[2][None, None, :]
        R = frame.R.astype(np.float32)
        return tuple(x * R[0, c] + y * R[1, c] + z * R[2, c] for c in range(3))


def _alpha(d, h):
    """Partial-volume fraction of a voxel at signed distance d (mm)."""
    a = d * np.float32(-1.0 / h)
    a += np.float32(0.5)
    return np.clip(a, 0.0, 1.0, out=a)


def _blend(view, alpha, value):
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


def _paint_solid(cv: _Canvas, frame: _Frame, items: Sequence[tuple[_Prim, float]]):
    """Paint soft-tissue primitives in order with anti-aliased edges."""
    for prim, hu in items:
        box = cv.box(frame, *prim.bounds(), pad=cv.h)
        if box is None:
            continue
        d = prim.sdf(*cv.coords(frame, box))
        _blend(cv.hu[box], _alpha(d, cv.h), hu)


@dataclass
class _Bone:
    """A bone: union of primitives with a cortical shell, painted with a label."""

    frame: _Frame
    prims: list
    label: int = 0
    carve: tuple = ()
    k: float = 2.0
    element_boost: float = 0.0   # extra HU of the interior away from prims[0]


def _paint_bone(cv: _Canvas, bone: _Bone, dens: dict):
    """Paint cortex and cancellous bone of ``bone`` and set its label."""
    pad = bone.k + 2.0 * cv.h + dens["t_cort"]
    boxes = [cv.box(bone.frame, *p.bounds(), pad=pad) for p in bone.prims]
    block = _union_box(boxes)
    if block is None:
        return
    shape = tuple(s.stop - s.start for s in block)
    d = np.full(shape, 1e3, np.float32)
    d_main = None
    for n, (prim, box) in enumerate(zip(bone.prims, boxes)):
        if box is not None:
            rel = _relative(box, block)
            dp = prim.sdf(*cv.coords(bone.frame, box))
            d[rel] = _smin(d[rel], dp, bone.k)
            if n == 0 and bone.element_boost:
                d_main = np.full(shape, 1e3, np.float32)
                d_main[rel] = dp
    for prim in bone.carve:
        box = cv.box(bone.frame, *prim.bounds(), pad=cv.h)
        rel = None if box is None else _relative(box, block)
        if rel is not None:
            box = tuple(slice(r.start + b.start, r.stop + b.start) for r, b in zip(rel, block))
            d[rel] = np.maximum(d[rel], -prim.sdf(*cv.coords(bone.frame, box)))
    view = cv.hu[block]
    _blend(view, _alpha(d, cv.h), dens["cortical"])
    inner = dens["cancellous"] + dens["texture"] * _texture(cv, block)
    if d_main is not None:
        inner += bone.element_boost * np.clip((d_main - d) / 3.0, 0.0, 1.0)
    _blend(view, _alpha(d + dens["t_cort"], cv.h), inner)
    _claim(cv, block, d, bone.label)


def _claim(cv: _Canvas, block, d, label: int):
    """Give voxels inside the bone to it unless an earlier bone is deeper there.

    Where two bones overlap (facet joints nearly touching at this resolution)
    each voxel goes to the bone whose surface is farther away, so the labels
    split along the mid-surface and stay in one piece.
    """
    depth = cv.depth[block]
    win = (d < 0) & (d < depth)
    depth[win] = d[win]
    cv.labels[block][win] = label


def _texture(cv: _Canvas, block):
    """Unit-variance trabecular texture for a block, tiled from the case's cube."""
    n = cv.texture.shape
    idx = [np.arange(block[a].start, block[a].stop) % n[a] for a in range(3)]
    return cv.texture[np.ix_(*idx)]


def _texture_cube(rng: np.random.Generator, spacing, n: int = 32) -> np.ndarray:
    """Periodic smooth random field (unit variance) of n^3 voxels."""
    t = rng.standard_normal((n, n, n), dtype=np.float32)
    t = ndimage.gaussian_filter(t, sigma=0.9 / np.asarray(spacing, float), mode="wrap", truncate=2.5)
    return t / np.float32(max(float(t.std()), 1e-6))


# ------------------------------------------------------------------- params
def _draw_params(rng: np.random.Generator, cfg: PhantomConfig) -> dict:
    """Draw all per-case anatomical parameters (JSON-serialisable)."""
    var = float(cfg.variation)

    def uni(spread):
        return float(rng.uniform(-1.0, 1.0) * spread * var)

    p = {"config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()}}
    p["scale"] = 1.0 + uni(0.10)
    p["lordosis"] = float(np.clip(1.0 + uni(0.45), 0.3, 2.0))
    big = rng.random() < 0.25
    p["scoliosis_mm"] = float(np.clip(rng.normal(0.0, (14.0 if big else 5.0) * var), -30, 30))
    p["global_rot_deg"] = [uni(5.0) for _ in range(3)]
    p["shift_mm"] = [uni(15.0) for _ in range(3)]
    p["axial_rot_deg"] = [float(rng.normal(0.0, 2.0 * var)) for _ in _LEVELS]
    p["level_jitter"] = [[1.0 + uni(0.04) for _ in range(3)] for _ in _LEVELS]
    p["disc_jitter"] = [1.0 + uni(0.12) for _ in _LEVELS]
    p["pelvic_tilt_deg"] = uni(6.0)
    p["crest_mm"] = uni(8.0)
    p["torso_semi_mm"] = [160.0 + uni(10.0), 117.5 + uni(7.5)]
    p["fat_mm"] = {"lateral": 20.0 + uni(10.0), "anterior": 22.0 + uni(12.0),
                   "posterior": 12.0 + uni(8.0), "wall": 10.0 + uni(2.5)}
    p["muscle_hu"] = 50.0 + uni(8.0)
    contrast = bool(rng.random() < 0.4 * min(var, 1.0))
    p["contrast"] = contrast
    p["aorta_hu"] = 200.0 + uni(50.0) if contrast else HU_BLOOD
    p["bone"] = {"cortical": 950.0 + uni(200.0), "cancellous": 225.0 + uni(70.0),
                 "t_cort": 1.75 + uni(0.25), "texture": 30.0}
    p["organ_jitter_mm"] = [[uni(8.0) for _ in range(3)] for _ in range(6)]
    p["bowel_seed"] = int(rng.integers(0, 2**31 - 1))
    cut_draw, cut_which, cut_frac = rng.random(), int(rng.integers(2)), float(rng.uniform(-0.35, 0.35))
    p["fov_cut"] = ({"vertebra": ("L1", "L5")[cut_which], "fraction": cut_frac}
                    if cut_draw < cfg.fov_cut_prob else None)
    return p


# ------------------------------------------------------------------- layout
@dataclass
class _Level:
    name: str
    g: dict               # geometry in mm
    s: float              # arc length of the body centre (mm, L3 = 0)
    c_body: np.ndarray    # body-frame centre
    frame: _Frame         # world frame


@dataclass
class _Layout:
    levels: list
    body: _Frame          # body frame: L3 centre, global rotation
    trunk: _Frame         # trunk frame: L3 centre, rotation about S-I only (torso, viscera)
    sacrum: _Frame        # origin S1 top endplate centre, w along the sacral axis
    pelvis: _Frame        # origin S1 top endplate centre, w vertical (+ tilt)
    discs: list           # (frame, upper geometry, lower geometry, half gap)
    curve: dict           # centreline samples in the body frame
    sacral_g: dict


def _level_geometry(p: dict) -> list[dict]:
    sc = p["scale"]
    out = []
    for n, name in enumerate(_LEVELS):
        a, b, h, disc, cw, pw, tp, tpb, spl, sph, beta = _LEVEL_TABLE[name]
        ja, jb, jh = p["level_jitter"][n]
        out.append({"a": a * sc * ja, "b": b * sc * jb, "hh": 0.5 * h * sc * jh,
                    "disc": disc * sc * p["disc_jitter"][n], "cw": cw * sc, "pw": pw * sc,
                    "tp": tp * sc * ja, "tpb": tpb * sc, "spl": spl * sc, "sph": sph * sc,
                    "beta": beta, "thoracic": name.startswith("T"), "name": name})
    return out


def _centreline(p: dict, s_lo: float, s_hi: float, s_base: float, s_top: float) -> dict:
    """Spine centreline in the body frame, sampled every 0.5 mm of arc length.

    The sagittal tangent angle gives lordosis with its apex at L3 (s = 0); the
    lateral offset is a smooth C-shaped scoliosis between ``s_base`` (top of
    S1, which stays in the midline) and ``s_top``.
    """
    s = np.arange(s_lo, s_hi + 0.5, 0.5)
    L = p["lordosis"]
    phi = np.radians(L * np.where(s < 0, -0.17 * s + 0.0013 * s * s, -0.15 * s))
    span = (s - s_base) / max(s_top - s_base, 1.0)
    x = p["scoliosis_mm"] * np.sin(np.pi * np.clip(span, 0.0, 1.0)) ** 2
    dx = np.clip(np.gradient(x, s), -0.5, 0.5)
    c = np.sqrt(1.0 - dx * dx)
    t = np.stack([dx, np.sin(phi) * c, np.cos(phi) * c], axis=1)
    pos = np.concatenate([[[0.0, 0.0, 0.0]], np.cumsum(0.5 * (t[1:] + t[:-1]) * 0.5, axis=0)])
    pos -= np.array([np.interp(0.0, s, pos[:, d]) for d in range(3)])
    return {"s": s, "pos": pos, "t": t}


def _curve_frame(curve: dict, s: float, axial_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Body-frame centre and axes (u right, v anterior, w along the tangent)."""
    c = np.array([np.interp(s, curve["s"], curve["pos"][:, d]) for d in range(3)])
    t = np.array([np.interp(s, curve["s"], curve["t"][:, d]) for d in range(3)])
    t /= np.linalg.norm(t)
    a = np.array([0.0, 1.0, 0.0]) - t[1] * t
    a /= np.linalg.norm(a)
    r = np.cross(a, t)
    return c, np.stack([r, a, t], axis=1) @ _rot(2, axial_deg)


def _layout(p: dict) -> _Layout:
    """Place T11..L5, discs, sacrum and pelvis along the spine curve."""
    geo = _level_geometry(p)
    i3 = _LEVELS.index("L3")
    s = [0.0] * len(geo)
    for n in range(i3 - 1, -1, -1):
        s[n] = s[n + 1] + geo[n + 1]["hh"] + geo[n]["disc"] + geo[n]["hh"]
    for n in range(i3 + 1, len(geo)):
        s[n] = s[n - 1] - geo[n - 1]["hh"] - geo[n - 1]["disc"] - geo[n]["hh"]
    s_s1 = s[-1] - geo[-1]["hh"] - geo[-1]["disc"]
    curve = _centreline(p, s_s1 - 140.0, s[0] + 60.0, s_s1, s[0] + 20.0)
    Rg = _rot(2, p["global_rot_deg"][2]) @ _rot(1, p["global_rot_deg"][1]) @ _rot(0, p["global_rot_deg"][0])
    tg = np.asarray(p["shift_mm"], float)

    def to_world(c, R):
        return _Frame(Rg @ c + tg, Rg @ R)

    levels = []
    for n, g in enumerate(geo):
        xs = float(np.interp(s[n], curve["s"], curve["pos"][:, 0]))
        c, R = _curve_frame(curve, s[n], p["axial_rot_deg"][n] + 0.4 * xs)
        levels.append(_Level(g["name"], g, s[n], c, to_world(c, R)))
    c1, R1 = _curve_frame(curve, s_s1, 0.0)
    sacral_g = {"a": 0.97 * geo[-1]["a"], "b": 0.95 * geo[-1]["b"], "hh": 14.0 * p["scale"],
                "cw": geo[-1]["cw"], "beta": 50.0}
    discs = _disc_frames(levels, curve, s_s1, sacral_g, to_world)
    pelvis = to_world(c1, _rot(0, p["pelvic_tilt_deg"]))
    trunk = _Frame(tg, _rot(2, p["global_rot_deg"][2]))
    return _Layout(levels, _Frame(tg, Rg), trunk, to_world(c1, R1), pelvis, discs, curve, sacral_g)


def _disc_frames(levels, curve, s_s1, sacral_g, to_world):
    """Frames of the discs T11-T12 .. L5-S1 at the middle of each gap."""
    discs = []
    for n, up in enumerate(levels):
        lo_g = levels[n + 1].g if n + 1 < len(levels) else {**sacral_g, "hh": 0.0}
        s_lo = levels[n + 1].s if n + 1 < len(levels) else s_s1
        s_mid = 0.5 * ((up.s - up.g["hh"]) + (s_lo + lo_g["hh"]))
        c, R = _curve_frame(curve, s_mid, 0.0)
        discs.append((to_world(c, R), up.g, lo_g, 0.5 * up.g["disc"]))
    return discs


def _make_canvas(cfg: PhantomConfig, lay: _Layout, p: dict) -> _Canvas:
    """Grid of the field of view, cut along S-I through L1 or L5 if drawn."""
    sp = np.asarray(cfg.spacing, float)
    fov = np.asarray(cfg.fov_mm, float)
    shape = np.maximum(np.round(fov / sp).astype(int), 1)
    centre = np.array([0.0, _FOV_Y_CENTRE, _FOV_Z_CENTRE])
    origin = centre - (shape - 1) / 2.0 * sp
    cut = p["fov_cut"]
    if cut is not None:
        lv = next(lv for lv in lay.levels if lv.name == cut["vertebra"])
        z_cut = float(lv.frame.o[2] + cut["fraction"] * 2.0 * lv.g["hh"])
        if cut["vertebra"] == "L1":
            shape[2] = int(np.clip(np.floor((z_cut - origin[2]) / sp[2]) + 1, 1, shape[2]))
        else:
            k0 = int(np.clip(np.ceil((z_cut - origin[2]) / sp[2]), 0, shape[2] - 1))
            origin[2] += k0 * sp[2]
            shape[2] -= k0
        cut["z_mm"] = z_cut
    return _Canvas(shape, sp, origin)


# ------------------------------------------------------------------ soft tissue
def _torso_prims(lay: _Layout, p: dict):
    """Outer torso and inner (muscle wall) ellipses following the lordosis."""
    curve = lay.curve
    zs, ys = curve["pos"][:, 2], curve["pos"][:, 1]
    keep = (zs > -150) & (zs < 150)
    poly = [float(c) for c in np.polyfit(zs[keep], 0.8 * ys[keep], 2)]
    A, B = p["torso_semi_mm"]
    f = p["fat_mm"]
    l3 = next(lv for lv in lay.levels if lv.name == "L3")
    back = -(l3.g["b"] + 58.0 * p["scale"] + 10.0 + f["posterior"])
    z_l4 = float(next(lv for lv in lay.levels if lv.name == "L4").c_body[2])

    def ellipse(da, db, dv):
        def fn(u, v, w):
            yc = (poly[0] * w + poly[1]) * w + poly[2] + back + B + dv
            flare = 0.3 * np.maximum(z_l4 - w, 0.0)
            return _sd_ellipse(u, v - yc, A - da + flare, B - db)
        big = 1e4
        return _Fn(fn, (-big, -big, -big), (big, big, big))

    inner_shift = 0.5 * (f["posterior"] - f["anterior"])
    outer = ellipse(0.0, 0.0, 0.0)
    inner = ellipse(2.0 + f["lateral"], 2.0 + 0.5 * (f["anterior"] + f["posterior"]), inner_shift)
    cavity = ellipse(2.0 + f["lateral"] + f["wall"],
                     2.0 + 0.5 * (f["anterior"] + f["posterior"]) + f["wall"], inner_shift)
    return outer, inner, cavity


def _paint_torso(cv: _Canvas, lay: _Layout, p: dict):
    """Skin, subcutaneous fat, muscle wall and intra-abdominal fat (whole volume).

    The trunk frame only rotates about S-I, so its coordinates separate into
    an (I, J, 1) in-plane part and a (1, 1, K) height, which keeps this cheap.
    """
    outer, inner, _ = _torso_prims(lay, p)
    fr = lay.trunk
    x, y, z = ((cv.axes[a] - fr.o[a]).astype(np.float32) for a in range(3))
    R = fr.R.astype(np.float32)
    u = x[:, None, None] * R[0, 0] + y[None, :, None] * R[1, 0]
    v = x[:, None, None] * R[0, 1] + y[None, :, None] * R[1, 1]
    w = z[None, None, :]
    layers = ((outer, [(0.0, HU_SKIN), (2.0, HU_SUBCUT_FAT)]),
              (inner, [(0.0, p["muscle_hu"]), (p["fat_mm"]["wall"], HU_VISCERAL_FAT)]))
    for prim, insets in layers:
        d = prim.sdf(u, v, w)
        for inset, hu in insets:
            _blend(cv.hu, _alpha(d + inset, cv.h), hu)


def _organ_hu(p: dict) -> dict:
    c = p["contrast"]
    return {"kidney": 150.0 if c else HU_KIDNEY, "liver": 100.0 if c else HU_LIVER,
            "spleen": 110.0 if c else HU_SPLEEN, "ivc": 110.0 if c else HU_BLOOD,
            "aorta": p["aorta_hu"]}


def _paint_viscera(cv: _Canvas, lay: _Layout, p: dict):
    """Bowel with gas (air-fluid levels), stomach, liver, spleen and kidneys."""
    _, _, cavity = _torso_prims(lay, p)
    hu = _organ_hu(p)
    items = _bowel_items(lay, p) + _upper_organ_items(lay, p, hu)
    _paint_solid(cv, lay.trunk, [(_Clip(prim, cavity), v) for prim, v in items])


def _gas_cap(loop: _Ellipsoid, level: float) -> _Prim:
    """Gas in the non-dependent (anterior) part of a loop above ``level``."""
    cv = loop.c[1] + level * max(loop.r)
    return _Clip(loop, _Fn(lambda u, v, w: cv - v, *loop.bounds()))


def _bowel_items(lay: _Layout, p: dict):
    """Small-bowel loops and colon; some contain gas above an air-fluid level."""
    brng = np.random.default_rng(p["bowel_seed"])
    var = p["config"]["variation"]
    l3 = next(lv for lv in lay.levels if lv.name == "L3")
    front = float(l3.g["b"]) + 30.0
    items = []
    for ix in range(6):
        for iz in range(4):
            c = (-90.0 + 36.0 * ix + 12.0 * var * brng.uniform(-1, 1),
                 front + 25.0 + 10.0 * (iz % 2) + 20.0 * var * brng.uniform(-1, 1),
                 -130.0 + 42.0 * iz + 12.0 * var * brng.uniform(-1, 1))
            radii = np.array([17.0, 13.0, 15.0]) * (1.0 + 0.35 * brng.uniform(-1, 1, 3))
            loop = _Ellipsoid(c, radii, _rot(2, float(brng.uniform(0, 180))))
            items.append((loop, HU_BOWEL + float(brng.uniform(-15, 15))))
            if brng.random() < 0.35:
                items.append((_gas_cap(loop, float(brng.uniform(-0.2, 0.6))), HU_GAS))
    for sgn, zc in ((1.0, -60.0), (-1.0, -30.0)):
        colon = _Ellipsoid((sgn * 88.0, 15.0, zc), (20.0, 20.0, 75.0))
        items.append((colon, HU_BOWEL))
        items.append((_gas_cap(colon, float(brng.uniform(-0.3, 0.4))), HU_GAS))
    return items


def _upper_organ_items(lay: _Layout, p: dict, hu: dict):
    """Stomach, liver, spleen and kidneys placed relative to T12..L2."""
    to_trunk = lay.trunk.R.T @ lay.body.R
    z = {lv.name: to_trunk @ lv.c_body for lv in lay.levels}
    j = [np.asarray(x) for x in p["organ_jitter_mm"]]
    stomach = _Ellipsoid(np.array([-55.0, 65.0, z["T12"][2] + 5.0]) + j[0], (45.0, 35.0, 55.0))
    liver = _Ellipsoid(np.array([75.0, 25.0, z["T12"][2] + 15.0]) + j[1], (85.0, 85.0, 80.0))
    spleen = _Ellipsoid(np.array([-85.0, -20.0, z["T12"][2] + 25.0]) + j[2], (30.0, 50.0, 45.0),
                        _rot(2, -35.0))
    items = [(stomach, HU_STOMACH), (_gas_cap(stomach, 0.4), HU_GAS),
             (liver, hu["liver"]), (spleen, hu["spleen"])]
    for sgn, name, jj in ((1.0, "L2", j[3]), (-1.0, "L1", j[4])):
        c = z[name] + np.array([sgn * 62.0, -8.0, 5.0]) + jj
        axes = _rot(2, -sgn * 30.0) @ _rot(1, sgn * 12.0)
        items.append((_Ellipsoid(c, (26.0, 21.0, 55.0), axes), hu["kidney"]))
        sinus = c + axes @ np.array([-sgn * 14.0, 0.0, 0.0])
        items.append((_Ellipsoid(sinus, (9.0, 9.0, 24.0), axes), HU_SINUS_FAT))
    return items


class _Loft(_Prim):
    """Elliptic cylinder along w whose centre and semi-axes vary piecewise linearly.

    ``mid``, ``below`` and ``above`` are (cu, cv, a, b) at w = 0, w = -d_lo and
    w = +d_hi; the shape spans w in [w0, w1].
    """

    def __init__(self, mid, below, above, d_lo, d_hi, w0, w1):
        self.mid, self.below, self.above = (tuple(float(x) for x in q) for q in (mid, below, above))
        self.d_lo, self.d_hi, self.w0, self.w1 = float(d_lo), float(d_hi), float(w0), float(w1)

    def sdf(self, u, v, w):
        t_lo = np.clip(-w / self.d_lo, 0.0, 1.0)
        t_hi = np.clip(w / self.d_hi, 0.0, 1.0)
        q = [m + (lo - m) * t_lo + (hi - m) * t_hi for m, lo, hi in zip(self.mid, self.below, self.above)]
        d2 = _sd_ellipse(u - q[0], v - q[1], np.maximum(q[2], 0.5), np.maximum(q[3], 0.5))
        return _extrude(d2, np.abs(w - 0.5 * (self.w0 + self.w1)) - 0.5 * (self.w1 - self.w0))

    def bounds(self):
        q = np.array([self.mid, self.below, self.above])
        return (np.array([(q[:, 0] - q[:, 2]).min(), (q[:, 1] - q[:, 3]).min(), self.w0]),
                np.array([(q[:, 0] + q[:, 2]).max(), (q[:, 1] + q[:, 3]).max(), self.w1]))


# Soft tissue around the spine, per level: name -> (cu, cv, a, b) in the vertebra
# frame; mirrored structures are given for the right side (u > 0).
_PARASPINAL = {"T11": (16, 20), "T12": (18, 22), "L1": (20, 24), "L2": (22, 25),
               "L3": (23, 26), "L4": (23, 26), "L5": (21, 24)}


def _soft_specs(g: dict, sc: float) -> dict:
    """Cross-sections (cu, cv, a, b) in mm of the soft tissue around one level."""
    a, b, cw, name = g["a"], g["b"], g["cw"], g["name"]
    k = _LEVELS.index(name) - _LEVELS.index("L1")       # -2 at T11, 0 at L1, 4 at L5
    su, sv = (x * sc for x in _PARASPINAL[name])
    spec = {"paraspinal": (6.0 + su, -b - 8.0 - sv, su, sv)}
    ru, rv = ((7.0 + 3.6 * k) * sc, (6.0 + 2.6 * k) * sc) if k >= 0 else (1.0, 1.0)
    spec["psoas"] = (a + ru - 4.0, -0.3 * b + 3.0 * max(k, 0), ru, rv)
    ql = (14.0 * sc, 9.0 * sc) if 0 <= k <= 3 else (2.0, 2.0)
    spec["quadratus"] = (g["tp"] * 0.85 + 12.0, -b - 12.0, *ql)
    spec["aorta"] = (-(0.25 * a + 5.0), b + 12.0, 11.0 * sc, 11.0 * sc)
    spec["ivc"] = (0.5 * a + 7.0, b + 9.0, 13.0 * sc, 9.0 * sc)
    cd = 0.95 * b + 1.0
    spec["epidural"] = (0.0, -b - cd / 2, cw + 0.5, cd / 2 + 0.5)
    spec["dural"] = (0.0, -b - cd / 2 + 0.5, 0.75 * cw, 0.4 * cd)
    return spec


def _pelvic_psoas(spec: dict) -> tuple:
    cu, cv, a, b = spec["psoas"]
    return (cu + 12.0, cv + 10.0, a, b)


def _level_soft_items(lay: _Layout, n: int, p: dict, hu: dict):
    """Lofted muscles, vessels and canal contents around level n (its frame)."""
    lv, sc = lay.levels[n], p["scale"]
    here = _soft_specs(lv.g, sc)
    above = _soft_specs(lay.levels[n - 1].g, sc) if n > 0 else here
    below = _soft_specs(lay.levels[n + 1].g, sc) if n + 1 < len(lay.levels) else dict(here, psoas=_pelvic_psoas(here))
    hh = lv.g["hh"]
    d_hi = hh + (lay.levels[n - 1].g["disc"] + lay.levels[n - 1].g["hh"] if n > 0 else 40.0)
    d_lo = hh + lv.g["disc"] + (lay.levels[n + 1].g["hh"] if n + 1 < len(lay.levels) else lay.sacral_g["hh"])
    w0, w1 = -0.5 * d_lo - 1.5, (0.5 * d_hi + 1.5 if n > 0 else hh + 40.0)
    is_l4 = lv.name == "L4"
    colours = {"paraspinal": p["muscle_hu"], "psoas": p["muscle_hu"], "quadratus": p["muscle_hu"],
               "aorta": hu["aorta"], "ivc": hu["ivc"], "epidural": HU_EPIDURAL_FAT, "dural": HU_CSF}
    items = []
    for name, value in colours.items():
        if name in ("aorta", "ivc") and _LEVELS.index(lv.name) > _LEVELS.index("L4"):
            continue
        top_lo = 0.0 if (name == "aorta" and is_l4) else w0
        mirror = name in ("paraspinal", "psoas", "quadratus")
        for sgn in ((1.0, -1.0) if mirror else (1.0,)):
            def m(q):
                return (sgn * q[0], *q[1:])
            items.append((_Loft(m(here[name]), m(below[name]), m(above[name]), d_lo, d_hi, top_lo, w1), value))
    items += _iliac_vessel_items(lv, hu)
    return items


def _iliac_vessel_items(lv: _Level, hu: dict):
    """Common iliac arteries from the aortic bifurcation (L4) and veins (L5)."""
    a, b, hh = lv.g["a"], lv.g["b"], lv.g["hh"]
    if lv.name == "L4":
        start = (-0.25 * a - 5.0, b + 12.0, 0.0)
        return [(_Capsule(start, end, 7.0, 6.0), hu["aorta"])
                for end in ((-50.0, b + 25.0, -100.0), (35.0, b + 25.0, -100.0))]
    if lv.name == "L5":
        start = (0.5 * a + 5.0, b + 9.0, hh + 5.0)
        return [(_Capsule(start, end, 8.0, 7.0), hu["ivc"]) for end in ((-45.0, b + 8.0, -80.0), (48.0, b + 8.0, -80.0))]
    return []


def _paint_spine_soft_tissue(cv: _Canvas, lay: _Layout, p: dict):
    """Per level: paraspinal, quadratus, psoas, vessels, canal; then discs."""
    hu = _organ_hu(p)
    for n, lv in enumerate(lay.levels):
        _paint_solid(cv, lv.frame, _level_soft_items(lay, n, p, hu))
    for frame, g_up, g_lo, half_gap in lay.discs:
        disc = _Body(0.0, 0.5 * (g_up["a"] + g_lo["a"]), 0.5 * (g_up["b"] + g_lo["b"]), half_gap + 3.5,
                     waist=-0.05, notch=2.0, rnd=2.0, concave=0.0)
        _paint_solid(cv, frame, [(disc, HU_DISC)])


def _wing_fn(p: dict, sgn: float, shell: tuple[float, float]):
    """SDF of the iliac wing (shell=None) or of a band inside/outside it."""
    sc = p["scale"]
    wc = 40.0 * sc + p["crest_mm"]
    aw, bw, cvv = 108.0 * sc, 75.0 * sc, 20.0 * sc

    def fn(u, v, w):
        su = sgn * u
        depth = np.maximum(wc - w, 0.0)
        de = _sd_ellipse(su, v - cvv, aw - 0.45 * depth, bw - 0.1 * depth)
        if shell is None:
            d = np.abs(de) - (1.8 + 2.2 * np.clip(1.0 - depth / 15.0, 0.0, 1.0))
            top = wc - 0.004 * (v - 5.0) ** 2
        else:
            d = np.maximum(shell[0] - de, de - shell[1])
            top = wc - 6.0 - 0.004 * (v - 5.0) ** 2
        lim = np.maximum(np.maximum(w - top, (wc - 120.0) - w), np.maximum(25.0 - su, np.abs(v + 2.0) - 50.0))
        return np.maximum(d, lim) if shell is None else _round2(d, lim, 8.0)

    lo = np.array([min(sgn * 20.0, sgn * 140.0), -60.0, wc - 125.0])
    hi = np.array([max(sgn * 20.0, sgn * 140.0), 60.0, wc + 5.0])
    return fn, lo, hi


def _paint_pelvis_soft_tissue(cv: _Canvas, lay: _Layout, p: dict):
    """Iliacus inside and gluteal muscles outside the iliac wings, pelvic psoas."""
    mus = p["muscle_hu"]
    sc = p["scale"]
    items = []
    for sgn in (1.0, -1.0):
        items.append((_Fn(*_wing_fn(p, sgn, (-24.0, 0.0))), mus))
        items.append((_Fn(*_wing_fn(p, sgn, (0.0, 28.0))), mus))
        items.append((_EllCyl(sgn * 50.0 * sc, 15.0 * sc, 21.0 * sc, 16.0 * sc, -110.0, 15.0), mus))
    _paint_solid(cv, lay.pelvis, items)
    b1 = lay.sacral_g["b"]
    multifidus = [(_EllCyl(sgn * 20.0 * sc, -b1 - 30.0 * sc, 14.0 * sc, 11.0 * sc, -70.0 * sc, 5.0), mus)
                  for sgn in (1.0, -1.0)]
    _paint_solid(cv, lay.sacrum, multifidus)


# ------------------------------------------------------------------- bones
def _joint(cw: float, b: float, beta: float, sgn: float):
    """Facet joint plane below a level, in the lower vertebra's frame.

    The joint line runs posterolaterally at ``beta`` degrees to the sagittal
    plane through J = (sgn*(cw+2.2), -b-18, 0); the normal points from the
    inferior process (posteromedial) to the superior process (anterolateral).
    """
    jb = math.radians(beta)
    return np.array([sgn * (cw + 2.2), -b - 18.0, 0.0]), np.array([sgn * math.cos(jb), math.sin(jb), 0.0])


def _plane_to(src: _Frame, dst: _Frame, point, normal):
    """Express a plane given in frame ``src`` in frame ``dst``."""
    pw, nw = src.o + src.R @ point, src.R @ normal
    return dst.R.T @ (pw - dst.o), dst.R.T @ nw


class _HalfClip(_Prim):
    """``prim`` restricted to the side of a plane: (p - point) . normal <= -offset.

    With ``w_max`` the restriction applies only below w = w_max.
    """

    def __init__(self, prim: _Prim, point, normal, offset, w_max=None):
        self.prim, self.offset = prim, float(offset)
        self.point, self.normal = (tuple(float(x) for x in q) for q in (point, normal))
        self.w_max = None if w_max is None else float(w_max)

    def sdf(self, u, v, w):
        q = _project(u, v, w, self.point, None)
        side = q[0] * self.normal[0] + q[1] * self.normal[1] + q[2] * self.normal[2] + self.offset
        if self.w_max is not None:
            side = np.minimum(side, self.w_max - w)
        return np.maximum(self.prim.sdf(u, v, w), side)

    def bounds(self):
        return self.prim.bounds()


def _facet(joint, w0, w1, superior: bool, gap: float = 1.2):
    """Articular process beside a facet joint plane (see ``_joint``).

    The superior process lies on the +normal side, the inferior one on the
    -normal side; both are clipped to keep a ``gap`` (mm) along the plane.
    """
    point, normal = (np.asarray(x, float) for x in joint)
    normal = normal / np.linalg.norm(normal)
    e = np.cross(normal, [0.0, 0.0, 1.0])
    e /= np.linalg.norm(e)
    axes = np.stack([e, normal, np.cross(e, normal)], axis=1)
    sign = 1.0 if superior else -1.0
    c = point + sign * (0.5 * gap + 2.6) * normal
    c[2] = 0.5 * (w0 + w1)
    box = _Box(c, (6.0, 2.6, 0.5 * (w1 - w0)), 1.5, axes)
    return _HalfClip(box, point, -sign * normal, 0.5 * gap)


def _vertebra_prims(g: dict, inferior_joints: dict) -> list:
    """Body, pedicles, laminae, processes of one vertebra (local frame, mm).

    ``inferior_joints`` maps side (+1 right, -1 left) to the facet joint plane
    below this vertebra, expressed in this vertebra's frame.
    """
    a, b, hh, cw, pw = g["a"], g["b"], g["hh"], g["cw"], g["pw"]
    prims = [_Body(0.0, a, b, hh, waist=0.08, notch=0.12 * b, rnd=1.5, concave=1.2)]
    wl0, wl1 = -hh - 1.0, 0.55 * hh
    th = g["thoracic"]
    for sgn in (1.0, -1.0):
        up = sgn * (cw + pw)
        prims.append(_box_between((up, -b + 4.0, 0.2 * hh), (up, -b - 12.0, 0.2 * hh), pw, 0.5 * hh, 2.0))
        lamina = _box_between((up, -b - 12.0, 0.5 * (wl0 + wl1)), (0.0, -b - 22.0, 0.5 * (wl0 + wl1)),
                              3.4, 0.5 * (wl1 - wl0), 1.5)
        point, normal = inferior_joints[sgn]
        prims.append(_HalfClip(lamina, point, normal, 0.6, w_max=-0.6 * hh))
        tpt, tph = (4.0, 6.5) if g["name"] == "L5" else (2.4, 4.5)
        prims.append(_box_between((up, -b - 7.0, 0.2 * hh), (sgn * g["tp"], -b - g["tpb"], 0.2 * hh + 2.0),
                                  tpt, tph, 1.8))
        prims.append(_facet(_joint(cw, b, g["beta"], sgn), 0.15 * hh, hh + 7.0, True))
        prims.append(_facet(inferior_joints[sgn], -hh - 15.0, -0.3 * hh, False))
    drop = 12.0 if th else 5.0
    tip = (0.0, -b - 19.0 - g["spl"], -0.1 * hh - drop)
    prims.append(_box_between((0.0, -b - 19.0, -0.1 * hh), tip, 3.2, g["sph"], 2.5))
    prims.append(_Box(tip, (4.0, 3.5, 0.9 * g["sph"]), 2.5))
    return prims


def _rib_prims(g: dict, sgn: float, long: bool) -> list:
    """11th/12th rib: capsule chain from the body along an arc, sloping down."""
    a, b, hh = g["a"], g["b"], g["hh"]
    ru, rv, cvv = (105.0, 65.0, 10.0) if long else (95.0, 55.0, 10.0)
    phi1, drop = (25.0, 60.0) if long else (-5.0, 45.0)
    pts = [(sgn * 0.75 * a, -0.55 * b, 0.3 * hh), (sgn * (g["tp"] - 2.0), -b - 12.0, 0.3 * hh - 4.0)]
    for t in np.linspace(0.0, 1.0, 9):
        ph = math.radians(-62.0 + (phi1 + 62.0) * t)
        pts.append((sgn * ru * math.cos(ph), cvv + rv * math.sin(ph), 0.3 * hh - 10.0 - drop * t))
    radii = np.linspace(4.5, 3.5, len(pts))
    return [_Capsule(pts[i], pts[i + 1], radii[i], radii[i + 1]) for i in range(len(pts) - 1)]


def _sacral_outline(sg: dict, sc: float):
    """Half-width, front and back (mm) of the sacral plate as functions of (u, w)."""
    b1, a1 = sg["b"], sg["a"]
    w_top, kk = 52.0 * sc, 0.0022 / sc

    def half_width(w, v):
        return np.maximum(w_top + 0.38 * w, 10.0 * sc) + 0.3 * (v - kk * w * w + 0.5 * b1)

    def front(au, w):
        return 0.5 * b1 - 0.25 * np.maximum(au - a1, 0.0) - 0.004 / sc * au * au + kk * w * w

    def back(au, w):
        return -(b1 + 20.0 * sc) + 0.006 / sc * au * au - 0.12 * w + kk * w * w

    return half_width, front, back


def _sacral_wedge(sg: dict, sc: float):
    """Sacral plate with alae: tapers and curves anteriorly going down."""
    half_width, front, back = _sacral_outline(sg, sc)
    w_top, length = 52.0 * sc, 105.0 * sc

    def fn(u, v, w):
        au = np.abs(u)
        d = _round2(au - half_width(w, v), np.maximum(v - front(au, w), back(au, w) - v), 4.0)
        return np.maximum(d, np.maximum(w - (-3.0 - 0.15 * au), -length - w))

    return _Fn(fn, (-w_top, -(sg["b"] + 22.0 * sc), -length), (w_top, sg["b"] + 30.0, 0.0))


def _si_mass(sg: dict, sc: float, sgn: float):
    """Sacroiliac part of the ilium along the lateral border of the sacrum."""
    half_width, front, back = _sacral_outline(sg, sc)

    def fn(u, v, w):
        hw = half_width(w, v) + 2.5
        su = sgn * u
        au = np.minimum(np.abs(u), 60.0 * sc)
        d = _round2(np.maximum(hw - su, su - hw - 24.0 * sc),
                    np.maximum(v - front(au, w) + 4.0, back(au, w) - 10.0 - v), 8.0)
        return _round2(d, np.maximum(w + 5.0, -70.0 * sc - w), 5.0)

    lo = np.array([min(sgn * 20.0, sgn * 90.0), -80.0, -75.0 * sc])
    hi = np.array([max(sgn * 20.0, sgn * 90.0), 40.0, 0.0])
    return _Fn(fn, lo, hi)


class _Reframe(_Prim):
    """Primitive given in another frame with the same origin: p' = M @ p."""

    def __init__(self, prim: _Prim, M):
        self.prim, self.M = prim, np.asarray(M, float)

    def sdf(self, u, v, w):
        m = self.M.tolist()
        return self.prim.sdf(*(m[r][0] * u + m[r][1] * v + m[r][2] * w for r in range(3)))

    def bounds(self):
        lo, hi = self.prim.bounds()
        lo, hi = np.maximum(lo, -1e3), np.minimum(hi, 1e3)
        corners = np.array([[(lo, hi)[(n >> d) & 1][d] for d in range(3)] for n in range(8)])
        back = corners @ self.M          # rows: M.T @ corner
        return back.min(0), back.max(0)


def _sacral_canal(sg: dict, sc: float):
    b1, kk = sg["b"], 0.0022 / sc

    def fn(u, v, w):
        f = np.clip(1.0 + w / (100.0 * sc), 0.4, 1.0)
        vc = -(b1 + 8.0 * sc) - 0.06 * w + kk * w * w
        d2 = _sd_ellipse(u, v - vc, 11.0 * sc * f, 5.5 * sc * f)
        return _extrude(d2, np.abs(w + 45.0 * sc) - 55.0 * sc)

    return _Fn(fn, (-12.0 * sc, -(b1 + 16.0 * sc), -100.0 * sc), (12.0 * sc, 10.0, 10.0 * sc))


def _sacrum_bone(lay: _Layout, p: dict) -> _Bone:
    """S1 body, sacral plate with alae, median crest, S1 superior facets."""
    sg, sc = lay.sacral_g, p["scale"]
    l5 = lay.levels[-1].g
    prims = [_Body(-sg["hh"], sg["a"], sg["b"], sg["hh"], waist=0.04, notch=0.1 * sg["b"], rnd=1.5, concave=0.8),
             _sacral_wedge(sg, sc), _Box((0.0, -sg["b"] - 22.0 * sc, -45.0 * sc), (3.0, 5.0, 35.0 * sc), 2.0)]
    prims += [_facet(_joint(l5["cw"], sg["b"], sg["beta"], sgn), -4.0, 16.0, True) for sgn in (1.0, -1.0)]
    carve = [_sacral_canal(sg, sc)]
    for sgn in (1.0, -1.0):
        for wz in (-25.0, -48.0, -70.0):
            carve.append(_Capsule((sgn * 24.0 * sc, -sg["b"] - 30.0, wz * sc), (sgn * 24.0 * sc, sg["b"] + 20.0, wz * sc), 4.0))
    return _Bone(lay.sacrum, prims, 0, tuple(carve), k=3.0)


def _ilium_bones(lay: _Layout, p: dict) -> list:
    """Iliac wings (pelvis frame) joined to their sacroiliac parts, label 0."""
    sg, sc = lay.sacral_g, p["scale"]
    M = lay.pelvis.R.T @ lay.sacrum.R
    return [_Bone(lay.sacrum, [_Reframe(_Fn(*_wing_fn(p, sgn, None)), M), _si_mass(sg, sc, sgn)], 0, (), k=6.0)
            for sgn in (1.0, -1.0)]


def _inferior_joints(lay: _Layout, n: int) -> dict:
    """Facet joint planes below level n (from the lower vertebra or S1), in n's frame."""
    if n + 1 < len(lay.levels):
        lo_frame, lo = lay.levels[n + 1].frame, lay.levels[n + 1].g
        cw, b = lo["cw"], lo["b"]
    else:
        lo_frame, lo = lay.sacrum, lay.sacral_g
        cw, b = lay.levels[-1].g["cw"], lo["b"]
    return {sgn: _plane_to(lo_frame, lay.levels[n].frame, *_joint(cw, b, lo["beta"], sgn)) for sgn in (1.0, -1.0)}


def _paint_bones(cv: _Canvas, lay: _Layout, p: dict, rng: np.random.Generator):
    """T11, T12 with ribs, L1..L5 (labelled), sacrum, ilia; in that order."""
    dens = p["bone"]
    cv.texture = _texture_cube(rng, cv.spacing)
    for n, lv in enumerate(lay.levels):
        label = _LABEL_OF.get(lv.name, 0)
        prims = _vertebra_prims(lv.g, _inferior_joints(lay, n))
        _paint_bone(cv, _Bone(lv.frame, prims, label, element_boost=250.0), dens)
        if lv.g["thoracic"]:
            for sgn in (1.0, -1.0):
                rib = _rib_prims(lv.g, sgn, long=lv.name == "T11")
                _paint_bone(cv, _Bone(lv.frame, rib, 0, k=0.0), {**dens, "t_cort": 1.2})
    _paint_bone(cv, _sacrum_bone(lay, p), dens)
    for bone in _ilium_bones(lay, p):
        _paint_bone(cv, bone, {**dens, "t_cort": 1.3})


# ------------------------------------------------------------------- finish
def _finish(cv: _Canvas, cfg: PhantomConfig, rng: np.random.Generator) -> np.ndarray:
    """Partial-volume blur, additive noise, clip and cast to int16."""
    hu = cv.hu
    if cfg.blur_mm > 0:
        hu = ndimage.gaussian_filter(hu, sigma=float(cfg.blur_mm) / cv.spacing, truncate=3.0)
    if cfg.noise_hu > 0:
        hu += rng.standard_normal(hu.shape, dtype=np.float32) * np.float32(cfg.noise_hu)
    np.clip(hu, -1024, 3071, out=hu)
    return np.rint(hu).astype(np.int16)
