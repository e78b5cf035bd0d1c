"""Reading and writing what users bring and keep.

- :mod:`pointseg.io.volume`: CT and label volumes (NIfTI, NRRD, MHA, DICOM series), the axis convention,
  resampling;
- :mod:`pointseg.io.dataset`: the dataset layout, its cases and file names;
- :mod:`pointseg.io.points`: ``points.csv``;
- :mod:`pointseg.io.importers`: VerSe and TotalSegmentator folders into the dataset layout;
- :mod:`pointseg.io.atomic`: every output written under a temporary name and renamed into place.
"""
