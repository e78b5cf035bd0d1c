"""Synthetic lumbar-spine CT phantom with L1..L5 labels.

The phantom is built from signed-distance primitives (vertebral bodies, oriented
rounded boxes, capsules, elliptic cylinders, ellipsoids) placed along a curved
spine centreline, rasterised with anti-aliased edges (partial volume), blurred
and made noisy.  It is meant to be hard in the ways real CT is hard: neighbouring
vertebrae look alike and nearly touch at the facet joints, T12 (with ribs) and the
sacrum/ilium are bony but unlabelled, the aorta can be bright with contrast, the
field of view may cut L1 or L5, and every case has its own size, curvature,
position and densities.

Modules
-------
``params``       ``PhantomConfig`` (chosen) and ``PhantomParams`` (drawn per case, first)
``anatomy``      reference tables: HU per tissue, vertebra sizes per level, labels
``geometry``     signed-distance primitives and frames
``layout``       the spine's curve, the frames of every level, the field-of-view grid
``soft_tissue``  torso, viscera, muscles, vessels, discs
``bones``        vertebrae, ribs, sacrum, ilia (labels 1..5 for L1..L5)
``render``       the canvas: partial volume, cortex and labels, blur, noise
``generate``     ``make_phantom``: all of the above in order

Geometry
--------
The volume is in RAS+ orientation with a positive diagonal affine: increasing
``i`` goes toward the patient's Right, ``j`` toward Anterior, ``k`` toward
Superior.  World coordinates are millimetres with the centre of L3 near the
origin (displaced by up to 15 mm per case).  HU values are listed in
``pointseg.phantom.anatomy``.

Labels: 0 background, 1..5 = L1..L5.  A voxel carries label ``n`` exactly when
its centre lies inside the bone (cortex or cancellous) of that vertebra and no
other bone was drawn over it.  T11, T12, ribs, sacrum and ilium are bone with
label 0.
"""

from pointseg.phantom.anatomy import LABEL_NAMES
from pointseg.phantom.generate import Phantom, make_phantom
from pointseg.phantom.params import PhantomConfig, PhantomParams

__all__ = ["PhantomConfig", "PhantomParams", "Phantom", "make_phantom", "LABEL_NAMES"]
