"""Synthetic CT phantoms: the lumbar spine with L1..L5 labels, and the upper body (neck to mid-femur) with
every bone and the main organs labelled.

Each anatomy is an entry of ``ANATOMIES`` (``pointseg phantom --anatomy``): its config class, the function
that makes one case from a seed, and the label set of its labels (None: plain L1..L5 ids).

The lumbar phantom is built from signed-distance primitives (vertebral bodies, oriented
rounded boxes, capsules, elliptic cylinders, ellipsoids) placed along a curved
spine centreline, rasterised with anti-aliased edges (partial volume), blurred
and made noisy.  It is meant to be hard in the ways real CT is hard: neighbouring
vertebrae look alike and nearly touch at the facet joints, T12 (with ribs) and the
sacrum/ilium are bony but unlabelled, the aorta can be bright with contrast, the
field of view may cut L1 or L5, and every case has its own size, curvature,
position and densities.

Modules
-------
Shared by both anatomies (``pointseg.phantom``):

``geometry``     signed-distance primitives and frames
``curves``       shapes along curves (tubes, ribbons, Bézier curves), stacks of sections, bent plates
``render``       the canvas: partial volume, cortex and labels, blur, noise
``coarse``       smooth distances on a coarse grid, interpolated onto the canvas
``tissue``       HU per tissue
``sampling``     bone density and fat layers drawn per case, ``plain`` for the case's record
``spine_parts``  vertebra sizes T11..L5, the centreline and its frames, S1, facets, sacrum, sacroiliac mass

The lumbar phantom (``lumbar``, plain L1..L5 labels):

``lumbar.params``       ``PhantomConfig`` (chosen) and ``PhantomParams`` (drawn per case, first)
``lumbar.anatomy``      labels, levels T11..L5, centre of the field of view
``lumbar.layout``       the spine's curve, the frames of every level, the field-of-view grid
``lumbar.soft_tissue``  torso, viscera, muscles, vessels, discs
``lumbar.bones``        vertebrae, ribs, sacrum, ilia (labels 1..5 for L1..L5)
``lumbar.generate``     ``make_phantom``: all of the above in order

The upper-body phantom (``upper_body``, label set ``upper_body``) reuses the shared modules:

``upper_body.params``    ``UpperBodyConfig`` and ``UpperBodyParams`` (build, spine shape, ribs, limbs, viscera, cut)
``upper_body.anatomy``   reference tables: vertebrae C1..L5, rib cage, sternum, HU of the new tissues
``upper_body.layout``    the whole spine's curve and frames, sacrum and pelvis frames
``upper_body.spine``     C1..L5 and the sacrum
``upper_body.thorax``    ribs, costal cartilages, sternum (the hoops also bound the chest cavity)
``upper_body.shoulder``  clavicles, scapulae, humeri, forearm and hand bones
``upper_body.pelvis``    hip bones and femora
``upper_body.soft``      body surface, fat, muscle, cavity, discs and canal, psoas, iliacus
``upper_body.organs``    lungs, heart, great vessels, airway, abdominal and pelvic organs
``upper_body.generate``  ``make_upper_body``: all of the above in order

Geometry
--------
The volume is in RAS+ orientation with a positive diagonal affine: increasing
``i`` goes toward the patient's Right, ``j`` toward Anterior, ``k`` toward
Superior.  World coordinates are millimetres with the centre of L3 near the
origin (displaced by up to 15 mm per case).  HU values are listed in
``pointseg.phantom.tissue``.

Labels: 0 background, 1..5 = L1..L5.  A voxel carries label ``n`` exactly when
its centre lies inside the bone (cortex or cancellous) of that vertebra and no
other bone was drawn over it.  T11, T12, ribs, sacrum and ilium are bone with
label 0.
"""

from dataclasses import dataclass
from typing import Callable

from pointseg.phantom.lumbar.anatomy import LABEL_NAMES
from pointseg.phantom.lumbar.generate import Phantom, make_phantom
from pointseg.phantom.lumbar.params import PhantomConfig, PhantomParams
from pointseg.phantom.upper_body.generate import UpperBodyPhantom, make_upper_body
from pointseg.phantom.upper_body.params import UpperBodyConfig, UpperBodyParams


@dataclass(frozen=True)
class Anatomy:
    """A kind of phantom: its config class, ``make(seed, config)`` and the label set of its labels."""

    config: type
    make: Callable
    label_set: str | None     # None: plain labels.nii.gz with L1..L5 ids (no labels.json)


ANATOMIES = {
    "lumbar": Anatomy(PhantomConfig, make_phantom, None),
    "upper-body": Anatomy(UpperBodyConfig, make_upper_body, "upper_body"),
}

__all__ = ["PhantomConfig", "PhantomParams", "Phantom", "make_phantom", "LABEL_NAMES", "Anatomy", "ANATOMIES",
           "UpperBodyConfig", "UpperBodyParams", "UpperBodyPhantom", "make_upper_body"]
