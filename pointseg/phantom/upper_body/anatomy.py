"""Reference anatomy of the upper-body phantom: vertebra sizes C1..L5, rib cage, sternum, HU per tissue.

These are the mean values of an adult (mm); the per-case spread is drawn in ``params``.

HU values added to those of ``pointseg.phantom.tissue`` (before blur and noise)
-----------------------------------------------------------------------------
=========================  =======================================
lung parenchyma            -850 (+ vessels 40)
trachea, bronchi           -1000 (air), wall 40
costal cartilage           100-200 (per case)
yellow marrow (long bones) -40
urine (bladder)            10
heart                      myocardium 45, blood 40 (contrast 250)
=========================  =======================================
"""

from __future__ import annotations

from pointseg.phantom.spine_parts import LEVEL_TABLE

HU_LUNG = -850.0
HU_AIRWAY = -1000.0
HU_MARROW = -40.0
HU_URINE = 10.0
HU_MYOCARDIUM = 45.0

CERVICAL = tuple(f"C{n}" for n in range(1, 8))
THORACIC = tuple(f"T{n}" for n in range(1, 13))
LUMBAR = tuple(f"L{n}" for n in range(1, 6))
SPINE = CERVICAL + THORACIC + LUMBAR       # superior to inferior

# Per level: body semi-width a, semi-depth b, body height, disc below, canal half-width cw, pedicle
# half-width pw, transverse process tip distance from the midline tp and backward offset tpb, spinous
# length spl and half-height sph, spinous tip drop, facet angle to the sagittal plane beta (deg), depth of
# the laminar junction behind the body lam. C1 has no body: its row sizes the ring.
SPINE_TABLE = {
    "C1": (9.0, 8.0, 11.0, 2.5, 13.0, 3.0, 38.0, 0.0, 8.0, 4.0, 0.0, 80.0, 22.0),
    "C2": (9.5, 8.0, 17.0, 5.0, 12.0, 3.0, 25.0, 2.0, 22.0, 6.0, 8.0, 80.0, 16.0),
    "C3": (8.5, 7.5, 13.0, 5.0, 12.5, 2.8, 24.0, 1.0, 16.0, 4.0, 6.0, 80.0, 16.0),
    "C4": (8.8, 7.5, 13.0, 5.2, 12.5, 2.8, 25.0, 1.0, 17.0, 4.0, 6.0, 80.0, 16.0),
    "C5": (9.2, 7.8, 13.0, 5.5, 12.5, 2.8, 26.0, 1.0, 18.0, 4.0, 7.0, 80.0, 16.0),
    "C6": (10.0, 8.0, 13.5, 5.5, 12.5, 3.0, 28.0, 2.0, 22.0, 4.5, 8.0, 80.0, 16.0),
    "C7": (11.5, 8.5, 14.0, 4.5, 12.0, 3.5, 32.0, 4.0, 32.0, 5.0, 12.0, 78.0, 17.0),
    "T1": (12.5, 9.5, 15.5, 3.5, 9.5, 4.0, 36.0, 12.0, 32.0, 5.5, 14.0, 70.0, 18.0),
    "T2": (13.0, 10.5, 16.5, 3.5, 8.5, 4.0, 36.0, 14.0, 34.0, 5.5, 18.0, 70.0, 18.0),
    "T3": (13.5, 11.0, 17.0, 3.8, 8.0, 4.0, 35.0, 15.0, 36.0, 5.5, 24.0, 70.0, 18.0),
    "T4": (14.0, 11.5, 17.5, 4.0, 8.0, 4.0, 34.0, 16.0, 38.0, 5.5, 28.0, 70.0, 18.0),
    "T5": (14.5, 12.0, 18.0, 4.2, 8.0, 4.0, 33.0, 17.0, 40.0, 5.5, 31.0, 70.0, 18.0),
    "T6": (15.0, 12.5, 18.5, 4.5, 8.0, 4.0, 32.0, 17.0, 41.0, 6.0, 33.0, 70.0, 18.0),
    "T7": (15.5, 13.0, 19.0, 4.8, 8.0, 4.0, 31.0, 17.0, 41.0, 6.0, 33.0, 70.0, 18.0),
    "T8": (16.0, 13.5, 19.5, 5.0, 8.0, 4.0, 30.0, 17.0, 40.0, 6.0, 31.0, 70.0, 18.0),
    "T9": (16.5, 14.0, 20.5, 5.5, 8.2, 4.0, 29.0, 17.0, 37.0, 6.5, 26.0, 68.0, 19.0),
    "T10": (17.0, 14.5, 21.5, 6.0, 8.5, 4.0, 28.0, 16.0, 34.0, 7.0, 20.0, 60.0, 19.0),
    **{name: LEVEL_TABLE[name][:10] + (14.0, 35.0, 20.0) for name in ("T11",)},
    **{name: LEVEL_TABLE[name][:10] + (10.0, 20.0, 21.0) for name in ("T12",)},
    **{name: LEVEL_TABLE[name][:10] + (5.0, LEVEL_TABLE[name][10], 22.0) for name in LUMBAR},
}

# Mean sagittal curvature (deg): lumbar lordosis L1 top to S1, thoracic kyphosis T1 to T12, cervical
# lordosis C2 to C7.
LORDOSIS_DEG = 52.0
KYPHOSIS_DEG = 42.0
CERVICAL_DEG = 25.0

# Rib cage, per rib 1..12: half-width A of its hoop, x of the bony anterior end (ribs 1-10; 0 for the
# floating ribs, which end at the angle FLOATING_END_DEG instead), half-thickness and half-height.
RIB_TABLE = (
    (58.0, 44.0, 3.6, 7.5), (85.0, 56.0, 3.2, 6.5), (100.0, 66.0, 3.0, 6.5), (110.0, 76.0, 3.0, 6.5),
    (117.0, 85.0, 3.0, 6.5), (122.0, 92.0, 3.0, 6.5), (126.0, 98.0, 3.0, 6.5), (128.0, 104.0, 3.0, 6.0),
    (128.0, 110.0, 3.0, 6.0), (126.0, 116.0, 2.9, 5.5), (120.0, 0.0, 2.8, 5.0), (108.0, 0.0, 2.5, 4.5),
)
FLOATING_END_DEG = {11: -2.0, 12: -38.0}
# Sternum: distance (mm, along the bone from the jugular notch) where the cartilage of ribs 1..7 attaches,
# and how far the cartilage rises from the rib's anterior end to the sternum.
STERNAL_ATTACH_MM = (14.0, 48.0, 70.0, 90.0, 110.0, 128.0, 143.0)
CARTILAGE_RISE_MM = (-4.0, 0.0, 4.0, 10.0, 18.0, 28.0, 40.0)
STERNUM_LENGTH_MM = 180.0
# (distance from the notch, half-width, half-thickness) along the sternum: manubrium, body, xiphoid.
STERNUM_PROFILE = ((0.0, 24.0, 8.0), (12.0, 28.0, 8.0), (35.0, 22.0, 7.5), (48.0, 14.0, 6.5), (60.0, 16.0, 6.0),
                   (100.0, 18.0, 6.0), (140.0, 13.0, 5.5), (150.0, 9.0, 3.5), (180.0, 3.0, 2.0))
