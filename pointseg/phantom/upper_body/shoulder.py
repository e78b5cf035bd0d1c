"""Shoulder girdle and arms: clavicles, scapulae, humeri, and the unlabelled forearm and hand bones.

The scapula is a bent triangular plate behind the ribs (T2..T8) in a frame at the glenoid whose axes are
lateral in the scapular plane (35 degrees from the coronal plane), toward the ribs, and up; it carries the
spine of the scapula, the acromion above the humeral head, the coracoid and the glenoid socket. The
clavicle runs from the top of the manubrium to the acromion. All points are body coordinates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from pointseg.labels import LabelSet
from pointseg.phantom.curves import Plate, bezier, tube
from pointseg.phantom.geometry import Box, Capsule, Ellipsoid, Frame, box_between
from pointseg.phantom.render import Bone, Canvas, paint_bone, paint_solid
from pointseg.phantom.sampling import BoneDensity
from pointseg.phantom.upper_body.anatomy import HU_MARROW
from pointseg.phantom.upper_body.layout import SpineLayout
from pointseg.phantom.upper_body.params import UpperBodyParams
from pointseg.phantom.upper_body.thorax import SIDES, RibCage

SCAPULAR_PLANE_DEG = 35.0


def _unit(v) -> np.ndarray:
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


@dataclass
class Arm:
    """One side's shoulder and arm (body coordinates)."""

    sgn: float                # +1 right, -1 left
    scapula: Frame            # origin at the glenoid; axes lateral, toward the ribs, up (mirrored on the left)
    head: np.ndarray          # humeral head centre
    head_r: float
    shaft_top: np.ndarray
    down: np.ndarray          # unit direction of the humeral shaft
    elbow: np.ndarray
    forearm: np.ndarray       # unit direction of the forearm
    wrist: np.ndarray
    clavicle: np.ndarray      # (N, 3) centreline from the sternum to the acromion


def arms(lay: SpineLayout, cage: RibCage, p: UpperBodyParams) -> list[Arm]:
    """Lay out both shoulders and arms."""
    sc, width = p.build.scale, p.build.chest_width
    t3 = lay.level("T3")
    out = []
    for n, sgn in enumerate((1.0, -1.0)):
        glenoid = t3.c_body + np.array([sgn * 150.0 * sc * width, 15.0 * sc, 5.0 + p.limbs.shrug_mm])
        c, s = math.cos(math.radians(SCAPULAR_PLANE_DEG)), math.sin(math.radians(SCAPULAR_PLANE_DEG))
        R = np.array([[sgn * c, -sgn * s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        scap = Frame(glenoid, R)
        head_r = 23.0 * sc
        head = glenoid + R[:, 0] * (head_r + 3.0)
        ab, fl = math.radians(p.limbs.abduction_deg[n]), math.radians(p.limbs.flexion_deg[n])
        down = _unit((sgn * math.sin(ab), math.sin(fl) * math.cos(ab), -math.cos(ab) * math.cos(fl)))
        top = head + np.array([sgn * 6.0 * sc, 0.0, 0.0]) + down * 22.0 * sc
        elbow = top + down * 285.0 * sc
        el = math.radians(p.limbs.elbow_deg[n])
        fore = _unit(down * math.cos(el) + np.array([-sgn * 0.35, 1.0, 0.0]) * math.sin(el)
                     - np.array([sgn * 0.08, 0.0, 0.0]))
        wrist = elbow + fore * 245.0 * sc
        acromion = scap.o + R @ np.array([2.0, 14.0, 31.0]) * sc
        medial = cage.sternum_point(4.0 * sc, sgn * 28.0 * sc) + np.array([0.0, -4.0, 6.0]) * sc
        span = acromion - medial
        clav = bezier(medial, medial + span * 0.35 + np.array([0.0, 14.0, 4.0]) * sc,
                      acromion - span * 0.3 + np.array([0.0, 6.0, 0.0]) * sc, acromion, 10)
        out.append(Arm(sgn, scap, head, head_r, top, down, elbow, fore, wrist, clav))
    return out


def _scapula_prims(sc: float, head_r: float) -> tuple[list, list]:
    """Plate, borders, spine, acromion, coracoid and glenoid (scapula frame); and the socket to carve."""
    def at(*points):
        return np.array(points, float) * sc

    corners = at((-22.0, 14.0), (-100.0, 24.0), (-88.0, -140.0), (-20.0, -24.0))
    prims = [Plate(corners, 2.2 * sc, bend=0.0012 / sc, u_bend=-60.0 * sc, r=1.0)]
    prims += tube(at((-20, 0, -24), (-55, 1, -85), (-88, 0, -140)), at(5.5, 4.5, 4.0))     # lateral border
    prims += tube(at((-100, 3, 24), (-96, 4, -60), (-88, 0, -140)), 3.0 * sc)              # medial border
    prims += tube(at((-98, -5, -8), (-60, -11, 4), (-22, -14, 18)), at(3.5, 5.0, 6.0))     # spine of the scapula
    prims.append(Box(at(2, -6, 29), at(22, 12, 4), 3.0))                                     # acromion
    prims.append(box_between(at(-24, -14, 18), at(-4, -10, 28), 6.0 * sc, 8.0 * sc, 3.0))  # and its root
    prims += tube(at((-18, 2, 14), (-10, 22, 24), (2, 34, 14)), at(6.0, 5.0, 4.5))          # coracoid
    prims.append(Ellipsoid(at(-7, 0, 0), at(10, 14, 20)))                                    # glenoid
    prims.append(Capsule(at(-7, 0, 0), at(-28, 0, -4), 11.0 * sc, 9.0 * sc))                # and its neck
    socket = Capsule(np.array([head_r + 3.0, 0.0, 0.0]), np.array([head_r + 3.0, 0.0, 0.0]), head_r + 2.0)
    return prims, [socket]


def _humerus_prims(arm: Arm, sc: float) -> list:
    """Head, greater tubercle, metaphysis, shaft, flared distal end and condyles (body coordinates)."""
    d, top, sgn = arm.down, arm.shaft_top, arm.sgn
    lat = _unit(np.cross(d, np.cross(np.array([sgn, 0.0, 0.0]), d)))
    length = float(np.linalg.norm(arm.elbow - top))
    prims = [Capsule(arm.head, arm.head, arm.head_r),
             Ellipsoid(arm.head + lat * 17.0 * sc + np.array([0.0, 6.0, 2.0]) * sc, np.array([10.0, 13.0, 15.0]) * sc),
             Capsule(arm.head + lat * 6.0 * sc - d * 2.0, top + d * 45.0 * sc, 19.0 * sc, 12.0 * sc),
             Capsule(top + d * 45.0 * sc, top + d * (length - 60.0 * sc), 11.5 * sc, 10.5 * sc),
             box_between(top + d * (length - 75.0 * sc), top + d * (length - 30.0 * sc), 9.0 * sc, 17.0 * sc, 4.0, lat),
             box_between(top + d * (length - 38.0 * sc), top + d * (length - 12.0 * sc), 10.0 * sc, 28.0 * sc, 5.0,
                         lat),
             Capsule(arm.elbow - lat * 20.0 * sc, arm.elbow + lat * 18.0 * sc, 11.0 * sc)]
    return prims


def _forearm_prims(arm: Arm, sc: float) -> list:
    """Ulna with olecranon, radius, carpus and metacarpals (unlabelled bone)."""
    f, e, w, sgn = arm.forearm, arm.elbow, arm.wrist, arm.sgn
    lat = _unit(np.cross(f, np.cross(np.array([sgn, 0.0, 0.0]), f)))
    front = _unit(np.cross(lat, f)) * sgn
    prims = [Ellipsoid(e - front * 12.0 * sc - lat * 8.0 * sc - f * 4.0 * sc, np.array([9.0, 9.0, 12.0]) * sc),
             Capsule(e - front * 6.0 * sc - lat * 8.0 * sc + f * 10.0 * sc, w - lat * 10.0 * sc, 8.0 * sc, 5.0 * sc),
             Capsule(e + lat * 12.0 * sc + f * 16.0 * sc, w + lat * 8.0 * sc, 6.0 * sc, 8.5 * sc),
             Ellipsoid(w + f * 14.0 * sc, np.array([16.0, 16.0, 16.0]) * sc)]
    for k in range(4):
        off = (k - 1.5) * 10.0 * sc
        prims.append(Capsule(w + f * 30.0 * sc + lat * off, w + f * 85.0 * sc + lat * off * 1.2, 4.5 * sc, 3.5 * sc))
    return prims


def marrow_items(arm: Arm, sc: float) -> list:
    """Yellow marrow in the humeral shaft (painted over the bone; its label stays)."""
    length = float(np.linalg.norm(arm.elbow - arm.shaft_top))
    return [(Capsule(arm.shaft_top + arm.down * 60.0 * sc, arm.shaft_top + arm.down * (length - 80.0 * sc), 6.5 * sc),
             HU_MARROW)]


def soft_tissue_prims(arm: Arm, sc: float, fat: float) -> list:
    """Outer surface of the arm: shoulder, upper arm, forearm and hand (skin outline; body coordinates)."""
    hand = arm.wrist + arm.forearm * 50.0 * sc
    return [Capsule(arm.head + np.array([0.0, 0.0, 4.0]), arm.elbow, (44.0 + fat) * sc, (34.0 + fat) * sc),
            Capsule(arm.elbow, arm.wrist, (34.0 + fat) * sc, (24.0 + 0.5 * fat) * sc),
            Ellipsoid(hand, np.array([38.0, 16.0 + 0.5 * fat, 55.0]) * sc, _hand_axes(arm))]


def _hand_axes(arm: Arm) -> np.ndarray:
    f = arm.forearm
    lat = _unit(np.cross(f, np.cross(np.array([arm.sgn, 0.0, 0.0]), f)))
    return np.stack([lat, np.cross(f, lat), f], axis=1)


def paint_arms(cv: Canvas, trunk: Frame, all_arms: list[Arm], dens: BoneDensity, labels: LabelSet, sc: float):
    """Clavicles, scapulae, humeri (labelled) with marrow; forearm and hand bones (unlabelled)."""
    for arm in all_arms:
        side = SIDES[arm.sgn]
        clav_r = np.interp(np.linspace(0, 1, len(arm.clavicle)), [0.0, 0.3, 0.8, 1.0], [10.0, 7.5, 7.0, 8.5]) * sc
        paint_bone(cv, Bone(trunk, tube(arm.clavicle, clav_r), labels.id_of(f"clavicula_{side}"), k=2.0), dens)
        prims, socket = _scapula_prims(sc, arm.head_r)
        scap = Frame(trunk.o + trunk.R @ arm.scapula.o, trunk.R @ arm.scapula.R)
        paint_bone(cv, Bone(scap, prims, labels.id_of(f"scapula_{side}"), tuple(socket), k=3.0),
                   replace(dens, t_cort=1.3))
        paint_bone(cv, Bone(trunk, _humerus_prims(arm, sc), labels.id_of(f"humerus_{side}"), k=4.0), dens)
        paint_solid(cv, trunk, marrow_items(arm, sc))
        paint_bone(cv, Bone(trunk, _forearm_prims(arm, sc), 0, k=1.5), dens)

