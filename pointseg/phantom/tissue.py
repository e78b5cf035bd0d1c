"""Tissue HU shared by both phantoms (the mean values; muscle, bone and contrast vary per case, drawn by
each anatomy's ``params``). The upper body adds its own tissues in ``upper_body.anatomy``.

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
