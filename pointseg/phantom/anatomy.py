"""Reference anatomy of the phantom: tissue HU, vertebra sizes per level, labels.

These are the mean values; the per-case spread is drawn in ``params``.

HU values (before blur and noise)
---------------------------------
=========================  =======================================
air                        -1000
bowel gas                  -900
subcutaneous fat           -100
intra-abdominal fat        -90
epidural fat               -80
renal sinus fat            -60
CSF / dural sac            15
bowel, stomach content     25-30
skin                       40
muscle                     40-60 (per case)
blood (aorta, IVC)         40; with contrast aorta 150-250, IVC ~110
kidney                     35; with contrast ~150
liver / spleen             55 / 45; with contrast ~100 / ~110
intervertebral disc        80
cancellous bone            150-300 (per case) + trabecular texture
cortical bone              700-1200 (per case), shell 1.5-2 mm
=========================  =======================================
"""

from __future__ import annotations

LABEL_NAMES = {1: "L1", 2: "L2", 3: "L3", 4: "L4", 5: "L5"}

# --------------------------------------------------------------------------- HU
HU_AIR = -1000.0
HU_GAS = -900.0
HU_SUBCUT_FAT = -100.0
HU_VISCERAL_FAT = -90.0
HU_EPIDURAL_FAT = -80.0
HU_SINUS_FAT = -60.0
HU_CSF = 15.0
HU_BOWEL = 30.0
HU_STOMACH = 25.0
HU_SKIN = 40.0
HU_BLOOD = 40.0
HU_KIDNEY = 35.0
HU_LIVER = 55.0
HU_SPLEEN = 45.0
HU_DISC = 80.0

# Per level: body semi-width a, semi-depth b, body height, disc below, canal
# half-width, pedicle half-width, TP tip distance from midline, TP backward
# offset, spinous length, spinous half-height, facet angle to sagittal (deg).
LEVEL_TABLE = {
    "T11": (17.5, 14.0, 22.0, 7.0, 8.5, 3.5, 30.0, 16.0, 28.0, 8.0, 15.0),
    "T12": (19.0, 14.5, 23.5, 8.0, 9.0, 3.5, 24.0, 10.0, 28.0, 8.5, 20.0),
    "L1": (20.5, 15.0, 25.0, 9.0, 10.5, 3.5, 32.0, 10.0, 30.0, 9.0, 25.0),
    "L2": (22.0, 15.8, 26.5, 10.0, 11.0, 4.0, 38.0, 10.0, 31.0, 10.0, 30.0),
    "L3": (23.5, 16.5, 27.5, 11.0, 11.5, 4.5, 44.0, 9.0, 31.0, 10.0, 35.0),
    "L4": (25.0, 17.2, 28.5, 11.5, 12.0, 5.5, 41.0, 8.0, 29.0, 9.5, 42.0),
    "L5": (26.0, 18.0, 29.0, 10.0, 12.5, 7.0, 38.0, 6.0, 24.0, 7.5, 48.0),
}
LEVELS = tuple(LEVEL_TABLE)              # T11 .. L5, superior to inferior
LABEL_OF = {name: label for label, name in LABEL_NAMES.items()}
FOV_Y_CENTRE = -5.0                      # mm, world A-P centre of the field of view
FOV_Z_CENTRE = -15.0                     # mm, world S-I centre of the field of view
