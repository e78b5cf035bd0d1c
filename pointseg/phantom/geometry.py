"""Signed-distance primitives (mm) and local frames, the building blocks of the phantom's anatomy.

A primitive has ``sdf(u, v, w)``, the signed distance (negative inside) at local coordinates given as
broadcastable float32 arrays, and ``bounds()``, the local box (lo, hi) outside which it is empty. A
``Frame`` places local coordinates in the world: world = o + R @ local.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np


# ---------------------------------------------------------- frames and rotations
@dataclass
class Frame:
    """Local frame: world = o + R @ local (columns of R: u, v, w axes)."""

    o: np.ndarray
    R: np.ndarray


def rot(axis: int, deg: float) -> np.ndarray:
    """3x3 rotation by ``deg`` degrees about array axis ``axis`` (0, 1, 2)."""
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    m = np.eye(3)
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


# ------------------------------------------------------------ SDF operations
def sd_ellipse(u, v, a, b):
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


def extrude(d2, dz):
    """Exact extrusion of a 2-D distance d2 with the slab distance dz."""
    out = np.sqrt(np.maximum(d2, 0.0) ** 2 + np.maximum(dz, 0.0) ** 2)
    return out + np.minimum(np.maximum(d2, dz), 0.0)


def round2(q1, q2, r):
    """Intersection of two slab distances with corners rounded by r (mm)."""
    q1, q2 = q1 + r, q2 + r
    out = np.sqrt(np.maximum(q1, 0.0) ** 2 + np.maximum(q2, 0.0) ** 2)
    return out + np.minimum(np.maximum(q1, q2), 0.0) - r


def smin(a, b, k):
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


# ------------------------------------------------------------- primitives
class Prim:
    """A primitive: ``sdf(u, v, w)`` in mm and local ``bounds()`` (lo, hi)."""

    def sdf(self, u, v, w):  # pragma: no cover - interface
        raise NotImplementedError

    def bounds(self):  # pragma: no cover - interface
        raise NotImplementedError


class Box(Prim):
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


def box_between(p0, p1, half_side, half_up, r=1.5, up=(0.0, 0.0, 1.0)):
    """Rounded box from p0 to p1 with cross-section half sizes (side, up)."""
    p0, p1, up = (np.asarray(x, float) for x in (p0, p1, up))
    e1 = p1 - p0
    length = float(np.linalg.norm(e1))
    e1 /= length
    e3 = up - np.dot(up, e1) * e1
    e3 /= np.linalg.norm(e3)
    e2 = np.cross(e3, e1)
    axes = np.stack([e1, e2, e3], axis=1)
    return Box((p0 + p1) / 2, (length / 2 + half_side * 0.5, half_side, half_up), r, axes)


class Capsule(Prim):
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


class Ellipsoid(Prim):
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


class EllCyl(Prim):
    """Elliptic cylinder along w: centre (cu, cv), semi-axes a, b, w in [w0, w1]."""

    def __init__(self, cu, cv, a, b, w0, w1):
        self.cu, self.cv, self.a, self.b = float(cu), float(cv), float(a), float(b)
        self.w0, self.w1 = float(w0), float(w1)

    def sdf(self, u, v, w):
        d2 = sd_ellipse(u - self.cu, v - self.cv, self.a, self.b)
        return extrude(d2, np.abs(w - 0.5 * (self.w0 + self.w1)) - 0.5 * (self.w1 - self.w0))

    def bounds(self):
        return (np.array([self.cu - self.a, self.cv - self.b, self.w0]),
                np.array([self.cu + self.a, self.cv + self.b, self.w1]))


class Loft(Prim):
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
        d2 = sd_ellipse(u - q[0], v - q[1], np.maximum(q[2], 0.5), np.maximum(q[3], 0.5))
        return extrude(d2, np.abs(w - 0.5 * (self.w0 + self.w1)) - 0.5 * (self.w1 - self.w0))

    def bounds(self):
        q = np.array([self.mid, self.below, self.above])
        return (np.array([(q[:, 0] - q[:, 2]).min(), (q[:, 1] - q[:, 3]).min(), self.w0]),
                np.array([(q[:, 0] + q[:, 2]).max(), (q[:, 1] + q[:, 3]).max(), self.w1]))


class Body(Prim):
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
        d2 = np.maximum(sd_ellipse(u, v, self.a * s, bb), -self.b * s - v)
        rc = 0.45 * self.a
        vc = -self.b - rc + self.notch
        d2 = np.maximum(d2, rc - np.sqrt(u * u + (v - vc) ** 2))
        r2 = np.clip(1.0 - (u / self.a) ** 2 - (v / self.b) ** 2, 0.0, 1.0)
        dz = np.abs(wl) - (self.hh - self.concave * r2)
        return extrude(d2 + self.rnd, dz + self.rnd) - self.rnd

    def bounds(self):
        m = max(1.0, 1.0 - self.waist)
        return (np.array([-self.a * m, -self.b * m, self.wc - self.hh]),
                np.array([self.a * m, self.b * m, self.wc + self.hh]))


class Fn(Prim):
    """Primitive from a function and explicit local bounds."""

    def __init__(self, fn: Callable, lo, hi):
        self.fn, self.lo, self.hi = fn, np.asarray(lo, float), np.asarray(hi, float)

    def sdf(self, u, v, w):
        return self.fn(u, v, w)

    def bounds(self):
        return self.lo, self.hi


# ------------------------------------------------------- derived primitives
class Clip(Prim):
    """Intersection of ``prim`` with ``clip`` (bounds of ``prim``)."""

    def __init__(self, prim: Prim, clip: Prim):
        self.prim, self.clip = prim, clip

    def sdf(self, u, v, w):
        return np.maximum(self.prim.sdf(u, v, w), self.clip.sdf(u, v, w))

    def bounds(self):
        return self.prim.bounds()


class HalfClip(Prim):
    """``prim`` restricted to the side of a plane: (p - point) . normal <= -offset.

    With ``w_max`` the restriction applies only below w = w_max.
    """

    def __init__(self, prim: Prim, point, normal, offset, w_max=None):
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


class Reframe(Prim):
    """Primitive given in another frame with the same origin: p' = M @ p."""

    def __init__(self, prim: Prim, M):
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
