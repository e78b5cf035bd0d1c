"""Volumes: reading and writing CT and label images (resampling and reorienting: :mod:`pointseg.io.grid`).

Axis convention (the one place it is written down)
--------------------------------------------------
A :class:`Volume` holds ``array`` indexed ``[i, j, k]`` exactly as nibabel returns a NIfTI's data
(``nib.load(p).dataobj[i, j, k]``) and ``affine``, the 4×4 matrix that maps a voxel index ``(i, j, k, 1)``
to world coordinates ``(x, y, z, 1)`` in **RAS+ millimetres** (+x toward the patient's right, +y anterior,
+z superior). The centre of voxel ``(0, 0, 0)`` is at ``affine[:3, 3]``. ``points.csv`` columns ``i,j,k``
and ``x,y,z`` use the same convention.

Files of any orientation are kept in their own orientation; nothing is silently reoriented. Formats that
store LPS coordinates (NRRD, MHA and DICOM through SimpleITK) are converted to RAS on reading and back on
writing. Geometry (resampling, grid changes) goes through SimpleITK; exact reorientation (axis flips and
permutations, no interpolation) goes through :mod:`nibabel.orientations`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import nibabel as nib
import numpy as np
import SimpleITK as sitk

from pointseg.io.atomic import atomic_path
from pointseg.errors import InputError


_LPS = np.diag([-1.0, -1.0, 1.0])
_NIFTI_SUFFIXES = (".nii", ".nii.gz")
_ITK_SUFFIXES = (".nrrd", ".nhdr", ".mha", ".mhd")


@dataclass
class Volume:
    """A 3D image on a grid: ``array[i, j, k]`` and the voxel-to-RAS ``affine`` (see the module docstring).

    ``array`` may carry a trailing channel axis ``[i, j, k, c]`` (class probabilities); resampling then
    treats the channels together.
    """

    array: np.ndarray
    affine: np.ndarray
    path: str | None = None

    def __post_init__(self) -> None:
        self.affine = np.asarray(self.affine, dtype=np.float64)
        if self.array.ndim not in (3, 4):
            raise InputError(f"expected a 3D image, got shape {self.array.shape}", self.path)
        if self.affine.shape != (4, 4):
            raise InputError(f"affine must be 4x4, got {self.affine.shape}", self.path)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.array.shape[:3])  # type: ignore[return-value]

    @property
    def spacing(self) -> np.ndarray:
        """Voxel size in mm along the array axes ``(i, j, k)``."""
        return np.linalg.norm(self.affine[:3, :3], axis=0)

    @property
    def axcodes(self) -> tuple[str, str, str]:
        """Anatomical direction each array axis increases toward, e.g. ``('P', 'I', 'R')``."""
        return nib.aff2axcodes(self.affine)

    def with_array(self, array: np.ndarray) -> "Volume":
        """The same grid holding another array (same shape)."""
        if array.shape[:3] != self.array.shape:
            raise ValueError(f"shape {array.shape} does not match the grid {self.array.shape}")
        return Volume(array, self.affine.copy(), self.path)

    def voxel_to_world(self, ijk: np.ndarray) -> np.ndarray:
        """Map voxel indices ``(N, 3)`` to RAS millimetres ``(N, 3)``."""
        return nib.affines.apply_affine(self.affine, np.asarray(ijk, dtype=np.float64))

    def world_to_voxel(self, xyz: np.ndarray) -> np.ndarray:
        """Map RAS millimetres ``(N, 3)`` to (fractional) voxel indices ``(N, 3)``."""
        return nib.affines.apply_affine(np.linalg.inv(self.affine), np.asarray(xyz, dtype=np.float64))

    def same_grid(self, other: "Volume", atol_mm: float = 1e-3) -> bool:
        """True when ``other`` has the same shape and an affine equal within ``atol_mm``."""
        return grid_difference(self, other, atol_mm) is None

    def grid_difference(
        self, other: "Volume", atol_mm: float = 1e-3, names: tuple[str, str] = ("this", "other")
    ) -> str | None:
        """:func:`grid_difference` of this volume and ``other`` (``None`` when they share the grid)."""
        return grid_difference(self, other, atol_mm, names)


def _pair(a: Sequence[float], b: Sequence[float], fmt) -> tuple[str, str]:
    """``a`` and ``b`` formatted so that they read differently (more decimals only where needed)."""
    for precision in (3, 4, 5, 6):
        text_a, text_b = fmt(a, precision), fmt(b, precision)
        if text_a != text_b:
            break
    return text_a, text_b


def grid_difference(
    a: Volume, b: Volume, atol_mm: float = 1e-3, names: tuple[str, str] = ("first", "second")
) -> str | None:
    """``None`` when ``a`` and ``b`` share the grid (see :meth:`Volume.same_grid`), else what differs.

    The text names each difference with its numbers, for an error message: shape, voxel spacing (mm along
    the array axes), orientation (axis codes) or direction (the angle between the axes), and origin (the
    RAS position of voxel ``(0, 0, 0)``), e.g. ``"spacing differs (labels 2 x 1 x 1 mm, CT 1 x 1 x 1 mm)"``.
    ``names`` are the words for ``a`` and ``b``; several differences are joined with ``"; "``.
    """
    if a.shape == b.shape and np.allclose(a.affine, b.affine, atol=atol_mm):
        return None
    name_a, name_b = names

    def numbers(values, precision, sep=", "):
        return sep.join(np.format_float_positional(float(v), precision=precision, trim="-") for v in values)

    parts = []
    if a.shape != b.shape:
        parts.append(f"shape differs ({name_a} {a.shape}, {name_b} {b.shape})")
    spacing_a, spacing_b = a.spacing, b.spacing
    if not np.allclose(spacing_a, spacing_b, atol=atol_mm):
        text_a, text_b = _pair(spacing_a, spacing_b, lambda v, p: numbers(v, p, " x "))
        parts.append(f"spacing differs ({name_a} {text_a} mm, {name_b} {text_b} mm)")
    direction_a, direction_b = a.affine[:3, :3] / spacing_a, b.affine[:3, :3] / spacing_b
    codes_a, codes_b = "".join(a.axcodes), "".join(b.axcodes)
    if codes_a != codes_b:
        parts.append(f"orientation differs ({name_a} {codes_a}, {name_b} {codes_b})")
    elif not np.allclose(direction_a * spacing_a, direction_b * spacing_a, atol=atol_mm):
        cosines = np.clip(np.sum(direction_a * direction_b, axis=0), -1.0, 1.0)
        angle = float(np.degrees(np.arccos(cosines)).max())
        parts.append(f"direction differs (axes up to {angle:.2g} degrees apart, both {codes_a})")
    origin_a, origin_b = a.affine[:3, 3], b.affine[:3, 3]
    if not np.allclose(origin_a, origin_b, atol=atol_mm):
        distance = float(np.linalg.norm(origin_a - origin_b))
        text_a, text_b = _pair(origin_a, origin_b, numbers)
        parts.append(
            f"origin differs by {numbers([distance], 3 if distance >= 1e-3 else 6)} mm "
            f"({name_a} at ({text_a}), {name_b} at ({text_b}) mm RAS)"
        )
    if not parts:  # within tolerance part by part, but not as a whole
        largest = float(np.abs(a.affine - b.affine).max())
        parts.append(f"affine differs by up to {numbers([largest], 6)} mm")
    return "; ".join(parts)


# --------------------------------------------------------------------------------------------- reading
def is_volume_path(path: Path) -> bool:
    """True for a file with a supported image extension or a folder holding DICOM files."""
    name = path.name.lower()
    if path.is_dir():
        return bool(sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(path)))
    return name.endswith(_NIFTI_SUFFIXES + _ITK_SUFFIXES)


def read_volume(path: str | os.PathLike, dtype: np.dtype | type | None = None) -> Volume:
    """Read a NIfTI, NRRD or MHA file, or a DICOM series folder, into a :class:`Volume`.

    Raises :class:`InputError` naming the file when it is missing, of an unknown kind, corrupt or not 3D.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or folder", path)
    name = path.name.lower()
    try:
        if path.is_dir():
            volume = _read_dicom_series(path)
        elif name.endswith(_NIFTI_SUFFIXES):
            volume = _read_nifti(path)
        elif name.endswith(_ITK_SUFFIXES):
            volume = from_sitk(sitk.ReadImage(str(path)), path=str(path))
        else:
            raise InputError("unknown image format (use .nii, .nii.gz, .nrrd, .mha or a DICOM folder)", path)
    except InputError:
        raise
    except Exception as exc:  # nibabel / SimpleITK / zlib raise many kinds for a damaged file
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot read image ({reason})", path) from exc
    volume.path = str(path)
    _check_geometry(volume, path)
    _check_finite(volume.array, path)
    if dtype is not None:
        volume.array = volume.array.astype(dtype, copy=False)
    return volume


def _check_geometry(volume: Volume, path: Path) -> None:
    """:class:`InputError` for voxels that are not numbers (an RGB image) or an affine that maps no volume
    (non-finite, or singular: a zero voxel size, as a header with ``srow_z`` all zero gives)."""
    if not np.issubdtype(volume.array.dtype, np.number):
        raise InputError(f"voxels are not numbers (data type {volume.array.dtype}; an RGB image?)", path)
    linear = np.asarray(volume.affine, dtype=np.float64)[:3, :3]
    if not np.all(np.isfinite(volume.affine)) or abs(np.linalg.det(linear)) < 1e-9:
        sizes = " x ".join(f"{s:g}" for s in np.linalg.norm(linear, axis=0))
        raise InputError(f"the affine maps no volume (voxel size {sizes} mm, singular or not finite)", path)


def _check_finite(array: np.ndarray, path: Path) -> None:
    """:class:`InputError` when a float image holds NaN or infinite voxels (integer ones cannot)."""
    if not np.issubdtype(array.dtype, np.floating):
        return
    with np.errstate(all="ignore"):
        # one pass, no temporary array: NaN and ±inf make the sum non-finite (float16 sums in float32)
        if np.isfinite(array.sum(dtype=np.float32 if array.dtype.itemsize < 4 else None)):
            return
    bad = ~np.isfinite(array)
    count = int(np.count_nonzero(bad))
    if count:  # (a sum of large finite values can overflow: count before blaming the data)
        first = tuple(int(n) for n in np.unravel_index(int(np.argmax(bad)), bad.shape)[:3])
        voxels = "1 voxel is" if count == 1 else f"{count} voxels are"
        raise InputError(f"{voxels} NaN or infinite (the first at voxel i,j,k = {first})", path)


def _read_nifti(path: Path) -> Volume:
    if path.name.lower().endswith(".gz"):
        # read to the end of the gzip stream: its CRC and length are checked only there, so a flipped byte
        # that still decompresses would otherwise pass unnoticed
        import gzip

        with gzip.open(path, "rb") as stream:
            kind = nib.Nifti2Image if int.from_bytes(stream.peek(4)[:4], "little") == 540 else nib.Nifti1Image
            image = kind.from_file_map({"image": nib.FileHolder(str(path), fileobj=stream)})
            array = np.asanyarray(image.dataobj)  # applies scl_slope / scl_inter
            stream.read()
    else:
        image = nib.load(str(path))
        array = np.asanyarray(image.dataobj)  # applies scl_slope / scl_inter; reads all bytes now
    if array.ndim == 4 and array.shape[3] == 1:
        array = array[..., 0]
    if array.ndim != 3:
        raise InputError(f"expected a 3D image, got shape {array.shape}", path)
    return Volume(np.asarray(array), image.affine, str(path))


def _read_dicom_series(folder: Path) -> Volume:
    series = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder))
    if not series:
        raise InputError("no DICOM series in this folder", folder)
    files = max((sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), s) for s in series), key=len)
    _check_slice_positions(folder, files)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(files)
    return from_sitk(reader.Execute(), path=str(folder))


def _dicom_numbers(reader: sitk.ImageFileReader, tag: str, count: int) -> np.ndarray | None:
    if not reader.HasMetaDataKey(tag):
        return None
    try:
        values = np.array([float(v) for v in reader.GetMetaData(tag).strip().split("\\")], dtype=np.float64)
    except ValueError:
        return None
    return values if values.shape == (count,) and np.all(np.isfinite(values)) else None


def _check_slice_positions(folder: Path, files: Sequence[str]) -> None:
    """:class:`InputError` when the slices of a DICOM series are not evenly spaced or two share a position.

    ITK only warns about such a series and returns a distorted volume. The position of each slice is its
    ImagePositionPatient (0020,0032) along the slice normal from ImageOrientationPatient (0020,0037); only
    the headers are read. A series whose files lack these tags is left to ITK.
    """
    if len(files) < 2:
        return
    reader = sitk.ImageFileReader()
    reader.SetImageIO("GDCMImageIO")
    normal, positions = None, []
    for file in files:
        reader.SetFileName(file)
        reader.ReadImageInformation()
        position, orientation = _dicom_numbers(reader, "0020|0032", 3), _dicom_numbers(reader, "0020|0037", 6)
        if position is None or orientation is None:
            return
        if normal is None:
            normal = np.cross(orientation[:3], orientation[3:])
            if np.linalg.norm(normal) < 1e-6:
                return
            normal /= np.linalg.norm(normal)
            if abs(normal[2]) > 0.999:  # axial: positions along the normal are the z coordinate (S in LPS and RAS)
                normal = np.array([0.0, 0.0, 1.0])
        positions.append(float(position @ normal))
    axial = bool(np.array_equal(normal, [0.0, 0.0, 1.0]))
    order = np.argsort(positions, kind="stable")
    z = np.asarray(positions)[order]
    gaps = np.diff(z)

    def tolerance(gap):
        return np.maximum(0.01 * np.abs(gap), 0.01)  # 1 % of the gap, at least 0.01 mm

    def mm(value: float) -> str:
        return np.format_float_positional(float(value), precision=3, trim="-")

    def at(*values: float) -> str:
        if axial:
            return " and ".join(f"z={mm(v)}" for v in values) + " mm"
        return " and ".join(mm(v) for v in values) + " mm along the slice normal"

    duplicates = np.flatnonzero(gaps <= 0.01)
    if duplicates.size:
        i = int(duplicates[0])
        first, second = Path(files[order[i]]).name, Path(files[order[i + 1]]).name
        more = f" ({duplicates.size} such pairs)" if duplicates.size > 1 else ""
        raise InputError(f"two slices share a position: {first} and {second} are both at {at(z[i])}{more} "
                         "(a duplicate slice?)", folder)
    # the usual gap: the one most other gaps agree with (the smallest of equally common ones)
    agree = np.abs(gaps[None, :] - gaps[:, None]) <= tolerance(gaps)[:, None]
    counts = agree.sum(axis=1)
    usual = float(np.min(gaps[counts == counts.max()]))
    uneven = np.flatnonzero(np.abs(gaps - usual) > tolerance(usual))
    if uneven.size:
        i = int(uneven[0])
        others = f"the others are {mm(usual)} mm" if uneven.size == 1 else f"most are {mm(usual)} mm"
        notes = [f"{uneven.size} gaps are not"] if uneven.size > 1 else []
        notes += ["a missing slice?"] if gaps[i] > 1.5 * usual else []
        note = f" ({'; '.join(notes)})" if notes else ""
        raise InputError(f"slice spacing is uneven: {mm(gaps[i])} mm between slices at {at(z[i], z[i + 1])} "
                         f"where {others}{note}", folder)


# --------------------------------------------------------------------------------------------- writing
def write_nifti(volume: Volume, path: str | os.PathLike, dtype: np.dtype | type | None = None) -> Path:
    """Write ``volume`` as NIfTI (``.nii`` or ``.nii.gz``) atomically; returns the path written."""
    path = Path(path)
    array = volume.array if dtype is None else volume.array.astype(dtype, copy=False)
    image = nib.Nifti1Image(np.asarray(array), volume.affine)
    image.set_qform(volume.affine, code=1)
    image.set_sform(volume.affine, code=1)
    image.header.set_xyzt_units("mm", "sec")
    with atomic_path(path) as tmp:
        nib.save(image, str(tmp))
    return path


def write_itk(volume: Volume, path: str | os.PathLike) -> Path:
    """Write ``volume`` in any SimpleITK format chosen by the extension (``.nrrd``, ``.mha``), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        sitk.WriteImage(to_sitk(volume), str(tmp), useCompression=True)
    return path


# ------------------------------------------------------------------------------------ SimpleITK bridge
def to_sitk(volume: Volume) -> sitk.Image:
    """Convert to a SimpleITK image (LPS physical space, array order reversed as ITK expects)."""
    linear = volume.affine[:3, :3]
    spacing = np.linalg.norm(linear, axis=0)
    direction = linear / spacing
    if not np.allclose(direction.T @ direction, np.eye(3), atol=1e-4):
        raise InputError("the affine has shear; only rotations, flips and scaling are supported", volume.path)
    vector = volume.array.ndim == 4
    order = (2, 1, 0, 3) if vector else (2, 1, 0)
    image = sitk.GetImageFromArray(np.ascontiguousarray(volume.array.transpose(order)), isVector=vector)
    image.SetSpacing([float(s) for s in spacing])
    image.SetOrigin([float(v) for v in _LPS @ volume.affine[:3, 3]])
    image.SetDirection([float(v) for v in (_LPS @ direction).ravel()])
    return image


def from_sitk(image: sitk.Image, path: str | None = None) -> Volume:
    """Convert a 3D SimpleITK image to a :class:`Volume` (RAS affine, nibabel array order)."""
    if image.GetDimension() != 3:
        raise InputError(f"expected a 3D image, got {image.GetDimension()}D", path)
    array = sitk.GetArrayFromImage(image)
    array = array.transpose((2, 1, 0, 3) if array.ndim == 4 else (2, 1, 0))  # a view: no copy of the voxels
    direction = np.asarray(image.GetDirection(), dtype=np.float64).reshape(3, 3)
    affine = np.eye(4)
    affine[:3, :3] = _LPS @ direction @ np.diag(image.GetSpacing())
    affine[:3, 3] = _LPS @ np.asarray(image.GetOrigin(), dtype=np.float64)
    return Volume(array, affine, path)
