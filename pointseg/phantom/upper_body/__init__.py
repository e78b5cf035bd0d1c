"""The upper-body phantom: neck to mid-femur with arms at the sides, every bone and the main organs labelled in
the label set ``upper_body``. It holds the settings and per-case parameters (``params``), the reference tables
(``anatomy``), the whole spine's placement (``layout``), the bones of the spine and sacrum (``spine``), rib cage
(``thorax``), shoulders and arms (``shoulder``) and hips and femora (``pelvis``), the body's soft tissue
(``soft``), the organs (``organs``) and ``make_upper_body`` (``generate``); the primitives, canvas, tissue HU
and spine parts it builds on are the shared modules of ``pointseg.phantom``, which exports its public names.
"""
