"""The lumbar phantom: T11..L5 along a curved spine with the sacrum, ilia, ribs 11 and 12, torso, viscera, muscles
and vessels, labelled 1..5 for L1..L5. It holds the settings and per-case parameters (``params``), the labels and
levels (``anatomy``), the placement of the spine and the field of view (``layout``), the soft tissue
(``soft_tissue``), the bones (``bones``) and ``make_phantom`` (``generate``); the primitives, canvas, tissue HU
and spine parts it builds on are the shared modules of ``pointseg.phantom``, which exports its public names.
"""
