"""CT intensity windows in Hounsfield units: what the models see and what the viewers show."""

BONE_WINDOW_HU = (-450.0, 1050.0)  # bone, with soft tissue still visible
SOFT_TISSUE_WINDOW_HU = (-160.0, 240.0)
