"""Working on the CT image itself.

- :mod:`pointseg.imaging.hu`: intensity windows in Hounsfield units;
- :mod:`pointseg.imaging.morphology`: structuring elements and connected-component cleanup;
- :mod:`pointseg.imaging.bone`: bone-aware relabelling (the seeded watershed on the CT's bone);
- :mod:`pointseg.imaging.preprocess`: planar slice stacks (resampling, CLAHE, crops) and their inverse;
- :mod:`pointseg.imaging.preview`: PNG montages of a CT with its labels.
"""
