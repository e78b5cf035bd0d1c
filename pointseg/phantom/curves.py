"""Shapes along curves and sheets: tubes and ribbons along polylines, Bézier curves, stacks of ellipse
sections and bent plates (signed distances in mm, like ``geometry``)."""

from __future__ import annotations

import numpy as np

from pointseg.phantom.geometry import Capsule, Prim, box_between, extrude, sd_ellipse


def bezier(p0, p1, p2, p3, n: int) -> np.ndarray:
    """(n, 3) points of the cubic Bézier curve with control points p0..p3."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    p0, p1, p2, p3 = (np.asarray(p, float) for p in (p0, p1, p2, p3))
    return (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t * t * p2 + t ** 3 * p3


def tube(points, radii) -> list[Prim]:
    """Tapered capsules joining consecutive ``points`` (N, 3) with ``radii`` (N,)."""
    pts, r = np.asarray(points, float), np.broadcast_to(np.asarray(radii, float), (len(points),))
    return [Capsule(pts[n], pts[n + 1], r[n], r[n + 1]) for n in range(len(pts) - 1)]


def ribbon(points, half_thick, half_height, normals, r: float = 2.0) -> list[Prim]:
    """Flat rounded boxes joining consecutive ``points``: thin along ``normals`` (N, 3), tall across them.

    ``half_thick`` and ``half_height`` are scalars or (N,) per point (a segment takes its first point's).
    """
    pts, nrm = np.asarray(points, float), np.asarray(normals, float)
    ht = np.broadcast_to(np.asarray(half_thick, float), (len(pts),))
    hh = np.broadcast_to(np.asarray(half_height, float), (len(pts),))
    out = []
    for n in range(len(pts) - 1):
        e1 = pts[n + 1] - pts[n]
        up = np.cross(e1, nrm[n] + nrm[n + 1])
        out.append(box_between(pts[n], pts[n + 1], ht[n], hh[n], min(r, ht[n]), up))
    return out


def interp_rows(x, xp, table):
    """Columns of ``table`` (M, C) interpolated at ``x`` (any shape) over the increasing knots ``xp`` (M,)."""
    return [np.interp(x, xp, table[:, c]).astype(np.float32) for c in range(table.shape[1])]


class Stack(Prim):
    """Ellipse sections along w: centre (cu, cv) and semi-axes (a, b) interpolated between knots ``w``.

    ``sections`` is (M, 5): w, cu, cv, a, b with w increasing; the shape spans [w_0, w_M-1].
    """

    def __init__(self, sections):
        self.s = np.asarray(sections, float)

    def sdf(self, u, v, w):
        cu, cv, a, b = interp_rows(w, self.s[:, 0], self.s[:, 1:])
        d2 = sd_ellipse(u - cu, v - cv, np.maximum(a, 0.5), np.maximum(b, 0.5))
        w0, w1 = self.s[0, 0], self.s[-1, 0]
        return extrude(d2, np.abs(w - 0.5 * (w0 + w1)) - 0.5 * (w1 - w0))

    def bounds(self):
        s = self.s
        return (np.array([(s[:, 1] - s[:, 3]).min(), (s[:, 2] - s[:, 4]).min(), s[0, 0]]),
                np.array([(s[:, 1] + s[:, 3]).max(), (s[:, 2] + s[:, 4]).max(), s[-1, 0]]))


class Plate(Prim):
    """Convex polygon in the (u, w) plane, ``half`` thick along v, its mid-surface bent to
    v = bend * (u - u_bend)**2; the polygon's corners are listed counter-clockwise."""

    def __init__(self, corners, half, bend=0.0, u_bend=0.0, r=1.0):
        self.c = np.asarray(corners, float)
        self.half, self.bend, self.u_bend, self.r = float(half), float(bend), float(u_bend), float(r)
        edges = np.roll(self.c, -1, axis=0) - self.c
        n = np.stack([edges[:, 1], -edges[:, 0]], axis=1)
        self.n = n / np.linalg.norm(n, axis=1, keepdims=True)

    def sdf(self, u, v, w):
        d2 = None
        for (pu, pw), (nu, nw) in zip(self.c, self.n):
            e = (u - pu) * nu + (w - pw) * nw
            d2 = e if d2 is None else np.maximum(d2, e)
        dv = np.abs(v - self.bend * (u - self.u_bend) ** 2) - (self.half - self.r)
        return extrude(d2 + self.r, dv) - self.r

    def bounds(self):
        lo, hi = self.c.min(0), self.c.max(0)
        du = max(abs(lo[0] - self.u_bend), abs(hi[0] - self.u_bend))
        vmax = self.bend * du * du
        return (np.array([lo[0], min(0.0, vmax) - self.half, lo[1]]),
                np.array([hi[0], max(0.0, vmax) + self.half, hi[1]]))
