"""Reference anatomy of the lumbar phantom: labels, the levels T11..L5 and the field of view's centre.

The vertebra sizes per level are ``LEVEL_TABLE`` in ``pointseg.phantom.spine_parts`` (the upper body
uses them too) and the tissue HU are in ``pointseg.phantom.tissue``; the per-case spread is drawn in
``params``.
"""

from __future__ import annotations

from pointseg.phantom.spine_parts import LEVEL_TABLE

LABEL_NAMES = {1: "L1", 2: "L2", 3: "L3", 4: "L4", 5: "L5"}

LEVELS = tuple(LEVEL_TABLE)              # T11 .. L5, superior to inferior
LABEL_OF = {name: label for label, name in LABEL_NAMES.items()}
FOV_Y_CENTRE = -5.0                      # mm, world A-P centre of the field of view
FOV_Z_CENTRE = -15.0                     # mm, world S-I centre of the field of view
