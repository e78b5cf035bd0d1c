"""The rib cage: 12 (11, 13) rib pairs, costal cartilages and the sternum.

Each rib leaves its vertebra at the head and tubercle and then follows a hoop, an ellipse in the axial
plane (wider behind than in front), descending as it goes forward. Ribs 1-7 end where their cartilage
takes over and reaches the sternum; the cartilages of ribs 8-10 join the one above (the costal margin);
ribs 11 and 12 float. The hoops also bound the chest cavity (``soft``, ``organs``).
All points are body coordinates (``layout``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from pointseg.labels import LabelSet, rib_name
from pointseg.phantom.curves import Stack, bezier, ribbon, tube
from pointseg.phantom.geometry import Frame
from pointseg.phantom.render import Bone, Canvas, paint_bone
from pointseg.phantom.sampling import BoneDensity
from pointseg.phantom.upper_body.anatomy import (CARTILAGE_RISE_MM, FLOATING_END_DEG, RIB_TABLE, STERNAL_ATTACH_MM,
                                                 STERNUM_LENGTH_MM, STERNUM_PROFILE)
from pointseg.phantom.upper_body.layout import SpineLayout
from pointseg.phantom.upper_body.params import UpperBodyParams

SIDES = {1.0: "right", -1.0: "left"}


@dataclass(frozen=True)
class Hoop:
    """Axial ellipse of a rib: centre (xc, yc), half-width a, depth behind (bp) and in front (ba) of the
    centre (mm, body coordinates), and the heights of the rib at its back (the angle), at its widest point
    and at its front end (NaN for a floating rib)."""

    xc: float
    yc: float
    a: float
    bp: float
    ba: float
    z_back: float = 0.0
    z_side: float = 0.0
    z_front: float = float("nan")

    def point(self, sgn: float, phi):
        """x, y on the hoop at angle ``phi`` (radians; 0 lateral, +pi/2 in front)."""
        s = np.sin(phi)
        return self.xc + sgn * self.a * np.cos(phi), self.yc + np.where(s > 0, self.ba, self.bp) * s


@dataclass
class Rib:
    """One rib: centreline points (N, 3), wall normals (N, 3), half-thickness and half-height (N,),
    and its cartilage centreline (M, 3) or None."""

    number: int          # 1..12, 13 for the extra lumbar rib
    sgn: float           # +1 right, -1 left
    points: np.ndarray
    normals: np.ndarray
    half_thick: np.ndarray
    half_height: np.ndarray
    cartilage: np.ndarray | None = None


@dataclass
class RibCage:
    """Ribs, hoops per rib number 1..12, and the sternum (frame in body coordinates, sections)."""

    ribs: list[Rib]
    hoops: list[Hoop]
    sternum: Frame
    sternum_sections: np.ndarray
    notch: np.ndarray

    def sternum_point(self, t: float, lateral: float = 0.0) -> np.ndarray:
        """Body coordinates of the sternum's axis ``t`` mm below the notch, ``lateral`` mm to the right."""
        return self.sternum.o + self.sternum.R @ np.array([lateral, 0.0, -t])


def _sternum(lay: SpineLayout, p: UpperBodyParams) -> tuple[Frame, np.ndarray]:
    """Frame (origin at the jugular notch, w up along the bone, v anterior) and sections of the sternum."""
    sc, depth = p.build.scale, p.build.chest_depth
    t1, t2 = lay.level("T1"), lay.level("T2")
    x = float(np.mean([lay.level(f"T{n}").c_body[0] for n in range(1, 8)]))
    z = t2.c_body[2] - t2.g.hh - 0.5 * t2.g.disc
    y = t1.c_body[1] + (t1.g.b + 46.0 * sc) * depth
    tilt = math.radians(22.0)
    R = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(tilt), -math.sin(tilt)], [0.0, math.sin(tilt), math.cos(tilt)]])
    prof = np.array(STERNUM_PROFILE)[::-1]
    sections = np.stack([-prof[:, 0] * sc * STERNUM_LENGTH_MM / 180.0, 0 * prof[:, 0], 0 * prof[:, 0],
                         prof[:, 1] * sc, prof[:, 2] * sc], axis=1)
    return Frame(np.array([x, y, z]), R), sections


def _half_width(sections: np.ndarray, t: float) -> float:
    return float(np.interp(-t, sections[:, 0], sections[:, 3]))


def rib_cage(lay: SpineLayout, p: UpperBodyParams) -> RibCage:
    """Lay out the ribs, their cartilages and the sternum of this case (all 12 hoops even with 11 pairs)."""
    sternum, sections = _sternum(lay, p)
    cage = RibCage([], [], sternum, sections, sternum.o.copy())
    above: dict[float, Rib | None] = {1.0: None, -1.0: None}
    for k in range(1, 13):
        hoops = []
        for sgn in (1.0, -1.0):
            rib, hoop = _rib(lay, p, cage, k, sgn, above[sgn])
            above[sgn] = rib
            hoops.append(hoop)
            if k <= p.rib_pairs:
                cage.ribs.append(rib)
        cage.hoops.append(replace(hoops[0], bp=0.5 * (hoops[0].bp + hoops[1].bp)))
    if p.rib_pairs == 13:
        cage.ribs += [_lumbar_rib(lay, sgn, p.build.scale * p.build.chest_width) for sgn in (1.0, -1.0)]
    return cage


def _vertebra_point(lay: SpineLayout, name: str, local) -> np.ndarray:
    return lay.to_body(lay.level(name).frame, local)


def _front(cage: RibCage, k: int, sgn: float, yc: float, z_back: float, above: Rib | None, sc: float):
    """Where rib k ends in front: the hoop's depth in front, the height of its end, and the point on the
    sternum its cartilage reaches (ribs 1-7; None for the others)."""
    if k <= 7:
        t = STERNAL_ATTACH_MM[k - 1] * sc
        attach = cage.sternum_point(t, sgn * (_half_width(cage.sternum_sections, t) + 1.5))
        return attach[1] - yc - 8.0, attach[2] - CARTILAGE_RISE_MM[k - 1] * sc, attach
    if k <= 10:
        t = (STERNAL_ATTACH_MM[6] + 25.0 * (k - 7)) * sc
        return cage.sternum_point(t)[1] - yc - 8.0 - 6.0 * (k - 7), above.points[-1][2] - 28.0 * sc, None
    depth = 0.8 * (cage.sternum_point(STERNAL_ATTACH_MM[6] * sc)[1] - yc)
    return depth, z_back - (70.0 if k == 11 else 50.0) * sc, None


def _rib(lay: SpineLayout, p: UpperBodyParams, cage: RibCage, k: int, sgn: float, above: Rib | None):
    """Rib k on side sgn (its cartilage joins that of ``above``, the rib above, for ribs 8-10) and its hoop."""
    sc, width, depth = p.build.scale, p.build.chest_width, p.build.chest_depth
    lv = lay.level(f"T{k}")
    g = lv.g
    single = k in (1, 11, 12)
    head = _vertebra_point(lay, lv.name, (sgn * (0.8 * g.a + 3.0), -0.45 * g.b, 0.0 if single else 0.6 * g.hh))
    tub = _vertebra_point(lay, lv.name, (sgn * (g.tp - 2.0), -g.b - g.tpb + 6.0, 0.2 * g.hh))
    a_hoop, x_end, ht, hh = RIB_TABLE[k - 1]
    a = a_hoop * sc * width
    xc, yc = float(lv.c_body[0]), float(lv.c_body[1] + 32.0 * sc * depth)
    px, py = abs(tub[0] + sgn * 14.0 * sc - xc), tub[1] - 5.0 * sc
    phi_s = -math.acos(min(px / a, 0.97))
    bp = (yc - py) / math.sin(-phi_s)
    ba, z_end, attach = _front(cage, k, sgn, yc, tub[2], above, sc)
    phi_e = math.radians(FLOATING_END_DEG[k]) if k > 10 else math.acos(min(x_end * sc * width / a, 0.99))
    hoop = Hoop(xc, yc, a, bp, max(ba, 20.0))
    phi = np.linspace(phi_s, phi_e, 18)
    tau = (phi - phi_s) / (phi_e - phi_s)
    z = tub[2] + (z_end - tub[2]) * (1.5 * tau - 0.5 * tau ** 3)       # descends, levelling off in front
    x, y = hoop.point(sgn, phi)
    arc = np.stack([x, y, z], axis=1)
    n_arc = np.stack([sgn * np.cos(phi) / a, np.sin(phi) / np.where(np.sin(phi) > 0, hoop.ba, bp), 0 * phi], axis=1)
    n_arc /= np.linalg.norm(n_arc, axis=1, keepdims=True)
    points = np.concatenate([[head, tub], arc])
    normals = np.concatenate([[n_arc[0], n_arc[0]], n_arc])
    taper = np.linspace(1.0, 0.55 if k > 10 else 0.9, len(points))
    half_t = np.full(len(points), ht * sc)
    half_h = np.concatenate([[0.6 * hh, 0.75 * hh], np.full(len(arc), hh)]) * sc * taper
    hoop = replace(hoop, z_back=float(z[0]), z_side=float(np.interp(0.0, phi, z)) if phi_e > 0 else float(z[-1]),
                   z_front=float(z[-1]) if k <= 10 else float("nan"))
    rib = Rib(k, sgn, points, normals, half_t, half_h)
    if k <= 10:
        rib.cartilage = _cartilage(arc, sgn, attach, above)
    return rib, hoop


def _cartilage(arc: np.ndarray, sgn: float, attach, above: Rib | None) -> np.ndarray:
    """Cartilage from the rib's anterior end to the sternum (``attach``), arriving from the side, or else to
    the middle of the cartilage of the rib above, arriving from below."""
    end, tangent = arc[-1], arc[-1] - arc[-2]
    tangent /= np.linalg.norm(tangent)
    if attach is None:
        target = above.cartilage[int(0.55 * (len(above.cartilage) - 1))]
        arrive = np.array([0.0, 0.0, -1.0])
    else:
        target, arrive = attach, np.array([sgn, 0.0, 0.0])
    length = float(np.linalg.norm(target - end))
    return bezier(end - tangent * 4.0, end + tangent * length / 3.0, target + arrive * length / 3.0, target, 9)


def _lumbar_rib(lay: SpineLayout, sgn: float, size: float) -> Rib:
    """A short extra rib on L1 (bone, but not one of the 24 labelled ribs)."""
    g = lay.level("L1").g
    pts = [(sgn * (0.8 * g.a + 3.0), -0.45 * g.b, 0.0), (sgn * (g.tp - 4.0), -g.b - 6.0, 0.0)]
    pts += [(sgn * (g.tp + 20.0 * t * size), -g.b - 10.0 - 8.0 * t, -22.0 * t) for t in (0.5, 1.0)]
    points = np.array([lay.to_body(lay.level("L1").frame, q) for q in pts])
    normals = np.tile([0.0, -1.0, 0.0], (len(points), 1))
    return Rib(13, sgn, points, normals, np.full(len(points), 2.5), np.linspace(4.0, 2.5, len(points)))


def paint_rib_cage(cv: Canvas, trunk: Frame, cage: RibCage, dens: BoneDensity, cartilage_hu: float,
                   labels: LabelSet):
    """Ribs (labelled by number and side; the extra lumbar rib unlabelled), cartilages, sternum."""
    rib_dens = replace(dens, t_cort=1.2)
    cart_dens = BoneDensity(cortical=cartilage_hu + 20.0, cancellous=cartilage_hu, t_cort=1.0, texture=8.0)
    cart_label = labels.id_of("costal_cartilages")
    for rib in cage.ribs:
        label = labels.id_of(rib_name(SIDES[rib.sgn], rib.number)) if rib.number <= 12 else 0
        prims = ribbon(rib.points, rib.half_thick, rib.half_height, rib.normals, r=2.0)
        paint_bone(cv, Bone(trunk, prims, label, k=1.5), rib_dens)
        if rib.cartilage is not None:
            radius = 5.5 if rib.number == 1 else 4.2
            paint_bone(cv, Bone(trunk, tube(rib.cartilage, radius), cart_label, k=1.0), cart_dens)
    world = Frame(trunk.o + trunk.R @ cage.sternum.o, trunk.R @ cage.sternum.R)
    paint_bone(cv, Bone(world, [Stack(cage.sternum_sections)], labels.id_of("sternum")), replace(dens, t_cort=1.2))
