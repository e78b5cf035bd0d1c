"""Planar preprocessing (seed 003 §2): 1 mm resampling, slicing along one axis, CLAHE, crop/pad to 352².

The pipeline for one case and one axis::

    CT (any orientation/spacing) ──reorient (exact)──► RAS grid ──resample──► ``spacing`` mm grid
        ──slice along the axis──► planes ──crop/pad──► (n_slices, H, W) ──window + CLAHE──► uint8 stack

:class:`SliceGeometry` records every step so that any per-slice output (labels, probabilities) goes back
to the CT's own grid (:meth:`SliceGeometry.to_original`) and any point maps to (slice, row, column)
(:meth:`SliceGeometry.world_to_slice`). Planes are shown upright in radiological convention:

=========  ==================  =======================  ==========================
axis       slices go along     rows (top → bottom)       columns (left → right)
=========  ==================  =======================  ==========================
axial      inferior→superior   anterior → posterior      patient's right → left
coronal    posterior→anterior  superior → inferior       patient's right → left
sagittal   left → right        superior → inferior       anterior → posterior
=========  ==================  =======================  ==========================

Stacks are cached in HDF5 (one file per case and axis, chunked per slice) keyed by the inputs and the
configuration, so training reads slices without touching NIfTI again.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from pointseg.errors import InputError
from pointseg.imaging.hu import BONE_WINDOW_HU
from pointseg.labels import LabelSet
from pointseg.io.points import Points
from pointseg.io.volume import Volume
from pointseg.io.grid import reorient, resample_to_grid, spacing_grid, undo_reorient

AXES = ("axial", "coronal", "sagittal")
AXIS_ALIASES = {"transverse": "axial", "frontal": "coronal"}
AIR_HU = -1024.0

# (slice axis, row axis, column axis) of the RAS array, and whether rows / columns are flipped.
_PLANES: dict[str, tuple[tuple[int, int, int], tuple[bool, bool]]] = {
    "axial": ((2, 1, 0), (True, True)),
    "coronal": ((1, 2, 0), (True, True)),
    "sagittal": ((0, 2, 1), (True, True)),
}


def normalize_axis(axis: str) -> str:
    """``axial``/``coronal``/``sagittal`` (also ``transverse``/``frontal``); :class:`InputError` otherwise."""
    name = AXIS_ALIASES.get(axis.lower(), axis.lower())
    if name not in AXES:
        raise InputError(f"unknown axis {axis!r} (use axial, coronal or sagittal)")
    return name


@dataclass(frozen=True)
class PreprocessConfig:
    """Settings of the planar preprocessing; the defaults are the paper's (1 mm, 352×352)."""

    spacing: float = 1.0
    size: tuple[int, int] = (352, 352)
    window: tuple[float, float] = BONE_WINDOW_HU  # mapped to 0..255 before CLAHE
    clahe_clip: float = 2.0
    clahe_tiles: int = 8

    def __post_init__(self):
        if not (self.spacing > 0 and np.isfinite(self.spacing)):
            raise InputError(f"--spacing must be a positive number of mm, not {self.spacing:g}")
        if len(self.size) != 2 or min(self.size) < 1:
            raise InputError(f"--size must be a positive number of pixels, not {' x '.join(map(str, self.size))}")

    def key(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> "PreprocessConfig":
        """The config from ``asdict`` output that went through JSON (lists back to tuples)."""
        return cls(**{**data, "size": tuple(data["size"]), "window": tuple(data["window"])})


@dataclass
class SliceGeometry:
    """Everything needed to go from a CT grid to a slice stack and back.

    ``offset[d]``: stack pixel ``p`` along in-plane dimension ``d`` is plane pixel ``p + offset[d]``
    (negative offsets mean padding).
    """

    axis: str
    original_shape: tuple[int, int, int]
    original_affine: np.ndarray
    ornt: np.ndarray
    canonical_shape: tuple[int, int, int]
    canonical_affine: np.ndarray
    resampled_shape: tuple[int, int, int]
    resampled_affine: np.ndarray
    offset: tuple[int, int]
    size: tuple[int, int]

    # -- serialisation -------------------------------------------------------------------------------
    def to_json(self) -> str:
        data = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in self.__dict__.items()}
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> "SliceGeometry":
        data = json.loads(text)
        for name in ("original_affine", "ornt", "canonical_affine", "resampled_affine"):
            data[name] = np.asarray(data[name], dtype=np.float64)
        for name in ("original_shape", "canonical_shape", "resampled_shape", "offset", "size"):
            data[name] = tuple(int(v) for v in data[name])
        return cls(**data)

    # -- planes ----------------------------------------------------------------------------------------
    @property
    def _plane(self) -> tuple[tuple[int, int, int], tuple[bool, bool]]:
        return _PLANES[self.axis]

    @property
    def num_slices(self) -> int:
        return self.resampled_shape[self._plane[0][0]]

    @property
    def plane_shape(self) -> tuple[int, int]:
        perm = self._plane[0]
        return self.resampled_shape[perm[1]], self.resampled_shape[perm[2]]

    def volume_to_stack(self, array: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """Resampled RAS array ``(X, Y, Z[, C])`` → stack ``(n, H, W[, C])``, cropped/padded with ``fill``."""
        perm, (flip_rows, flip_cols) = self._plane
        planes = np.transpose(array, perm + tuple(range(3, array.ndim)))
        if flip_rows:
            planes = planes[:, ::-1]
        if flip_cols:
            planes = planes[:, :, ::-1]
        out = np.full((planes.shape[0],) + self.size + planes.shape[3:], fill, dtype=array.dtype)
        src, dst = self._windows()
        out[(slice(None),) + dst] = planes[(slice(None),) + src]
        return out

    def stack_to_volume(self, stack: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """Inverse of :meth:`volume_to_stack`: ``(n, H, W[, C])`` → resampled RAS ``(X, Y, Z[, C])``.

        Voxels outside the crop window get ``fill``.
        """
        return self.window_to_volume(stack[(slice(None),) + self.stack_window], fill)

    @property
    def stack_window(self) -> tuple[slice, slice]:
        """The rows and columns of the stack that hold image (the rest is padding)."""
        return self._windows()[1]

    def window_to_volume(self, window: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """Like :meth:`stack_to_volume` for a stack already cut to :attr:`stack_window`."""
        perm, (flip_rows, flip_cols) = self._plane
        planes = np.full((self.num_slices,) + self.plane_shape + window.shape[3:], fill, dtype=window.dtype)
        planes[(slice(None),) + self._windows()[0]] = window
        if flip_rows:
            planes = planes[:, ::-1]
        if flip_cols:
            planes = planes[:, :, ::-1]
        inverse = tuple(int(a) for a in np.argsort(perm)) + tuple(range(3, window.ndim))
        return np.ascontiguousarray(np.transpose(planes, inverse))

    def _windows(self) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
        """(plane window, stack window) of the overlap between the plane and the crop."""
        src, dst = [], []
        for extent, size, offset in zip(self.plane_shape, self.size, self.offset):
            start, stop = max(offset, 0), min(offset + size, extent)
            src.append(slice(start, stop))
            dst.append(slice(start - offset, stop - offset))
        return tuple(src), tuple(dst)  # type: ignore[return-value]

    # -- points ---------------------------------------------------------------------------------------
    def world_to_slice(self, xyz: np.ndarray) -> np.ndarray:
        """World RAS mm ``(N, 3)`` → fractional ``(slice, row, column)`` ``(N, 3)`` in the stack."""
        ras = Volume(np.zeros((1, 1, 1)), self.resampled_affine).world_to_voxel(np.reshape(xyz, (-1, 3)))
        perm, (flip_rows, flip_cols) = self._plane
        out = ras[:, list(perm)]
        if flip_rows:
            out[:, 1] = self.plane_shape[0] - 1 - out[:, 1]
        if flip_cols:
            out[:, 2] = self.plane_shape[1] - 1 - out[:, 2]
        out[:, 1:] -= np.asarray(self.offset, dtype=np.float64)
        return out

    def voxel_to_slice(self, ijk: np.ndarray) -> np.ndarray:
        """Original voxel indices ``(N, 3)`` → fractional ``(slice, row, column)``."""
        return self.world_to_slice(Volume(np.zeros((1, 1, 1)), self.original_affine).voxel_to_world(ijk))

    # -- back to the CT's grid ----------------------------------------------------------------------------
    def to_original(self, array: np.ndarray, interpolation: str = "linear", fill: float = 0.0) -> np.ndarray:
        """Resampled RAS array ``(X, Y, Z[, C])`` → the CT's own grid ``(I, J, K[, C])``."""
        on_canonical = resample_to_grid(
            Volume(array, self.resampled_affine), self.canonical_shape, self.canonical_affine, interpolation, fill
        ).array
        return undo_reorient(on_canonical.astype(array.dtype, copy=False), self.ornt)

    def probability_to_original(self, array: np.ndarray, floor: float = 1e-3) -> np.ndarray:
        """One class's probabilities on the resampled RAS grid ``(X, Y, Z)`` → the CT's own grid, resampling
        only the box where they exceed ``floor`` (the rest is 0): most classes of a large label set cover
        a small part of the scan, so this is many times faster than :meth:`to_original` for them."""
        above = array > floor
        if not above.any():
            return undo_reorient(np.zeros(self.canonical_shape, dtype=np.float32), self.ornt)
        spans = [np.flatnonzero(above.any(axis=tuple(a for a in range(3) if a != d))) for d in range(3)]
        del above
        low, high = np.array([s[0] for s in spans]), np.array([s[-1] + 1 for s in spans])
        corners = np.array([[a, b, c] for a in (low[0] - 1, high[0]) for b in (low[1] - 1, high[1])
                            for c in (low[2] - 1, high[2])], dtype=np.float64)
        world = corners @ self.resampled_affine[:3, :3].T + self.resampled_affine[:3, 3]
        voxels = (world - self.canonical_affine[:3, 3]) @ np.linalg.inv(self.canonical_affine[:3, :3]).T
        start = np.clip(np.floor(voxels.min(axis=0)).astype(int) - 1, 0, self.canonical_shape)
        stop = np.clip(np.ceil(voxels.max(axis=0)).astype(int) + 2, 0, self.canonical_shape)
        if np.all(start == 0) and np.all(stop == np.array(self.canonical_shape)):  # the whole grid: no buffer
            return self.to_original(array, "linear", 0.0)
        canonical = np.zeros(self.canonical_shape, dtype=np.float32)
        if np.all(stop > start):
            source = Volume(np.ascontiguousarray(array[tuple(slice(a, b) for a, b in zip(low, high))]),
                            _shifted(self.resampled_affine, low))
            part = resample_to_grid(source, tuple(stop - start), _shifted(self.canonical_affine, start), "linear", 0.0)
            canonical[tuple(slice(a, b) for a, b in zip(start, stop))] = part.array
        return undo_reorient(canonical, self.ornt)

    def stack_to_original(self, stack: np.ndarray, interpolation: str = "linear", fill: float = 0.0) -> np.ndarray:
        """Stack ``(n, H, W[, C])`` straight back to the CT's own grid."""
        return self.to_original(self.stack_to_volume(stack, fill), interpolation, fill)


def _shifted(affine: np.ndarray, start) -> np.ndarray:
    """The affine of the sub-grid that starts at voxel ``start`` of the grid of ``affine``."""
    out = np.array(affine, dtype=np.float64)
    out[:3, 3] = affine[:3, :3] @ np.asarray(start, dtype=np.float64) + affine[:3, 3]
    return out


def plan_geometry(
    ct: Volume, axis: str, config: PreprocessConfig, center_world: np.ndarray | None = None, full_plane: bool = False,
) -> tuple[SliceGeometry, Volume, Volume]:
    """Geometry of ``ct`` sliced along ``axis``; also returns the RAS volume and its resampled version.

    With ``full_plane`` the stack keeps every pixel of each plane (padded up to at least ``config.size``):
    what prediction uses, so that no part of a tall or wide CT is cut away, and what training crops its
    ``config.size`` windows from. Otherwise the ``config.size`` window is centred on ``center_world`` (RAS
    mm) when given — the centroid of the clicks — and else on the bounding box of the body (> −500 HU).
    """
    axis = normalize_axis(axis)
    canonical, ornt = reorient(ct)
    shape, affine = spacing_grid(canonical, config.spacing)
    resampled = resample_to_grid(canonical, shape, affine, "linear", AIR_HU)
    geometry = SliceGeometry(
        axis, ct.shape, ct.affine.copy(), ornt, canonical.shape, canonical.affine.copy(),
        tuple(shape), affine, (0, 0), tuple(config.size),
    )
    if full_plane:
        geometry.size = tuple(max(s, e) for s, e in zip(config.size, geometry.plane_shape))  # type: ignore[assignment]
    center = _crop_center(geometry, resampled.array, center_world)
    geometry.offset = tuple(
        _offset(c, extent, size) for c, extent, size in zip(center, geometry.plane_shape, geometry.size)
    )  # type: ignore[assignment]
    return geometry, canonical, resampled


def _crop_center(geometry: SliceGeometry, resampled: np.ndarray, center_world: np.ndarray | None) -> np.ndarray:
    if center_world is not None:
        return geometry.world_to_slice(np.reshape(center_world, (1, 3)))[0, 1:]
    body = geometry.volume_to_stack(resampled > -500.0, fill=False).any(axis=0)  # offset is still (0, 0)
    crop = body[: geometry.plane_shape[0], : geometry.plane_shape[1]]
    if not crop.any():
        return (np.asarray(geometry.plane_shape) - 1) / 2.0
    rows, cols = np.flatnonzero(crop.any(axis=1)), np.flatnonzero(crop.any(axis=0))
    return np.array([(rows[0] + rows[-1]) / 2.0, (cols[0] + cols[-1]) / 2.0])


def _offset(center: float, extent: int, size: int) -> int:
    """Start of a window of ``size`` pixels centred on ``center`` and kept inside ``extent`` when it fits."""
    if extent <= size:
        return -((size - extent) // 2)
    return int(np.clip(round(center - size / 2.0), 0, extent - size))


def with_context(image: np.ndarray, start: int, stop: int, context: int = 0) -> np.ndarray:
    """Slices ``start:stop`` of a stack ``(n, H, W)`` with ``context`` neighbours on each side as channels:
    ``(stop - start, 2 context + 1, H, W)``, channel ``context`` the slice itself; neighbours past either end
    of the stack repeat the end slice (2.5D input)."""
    index = np.arange(start, stop)[:, None] + np.arange(-context, context + 1)[None, :]
    return image[np.clip(index, 0, len(image) - 1)]


def enhance(stack_hu: np.ndarray, config: PreprocessConfig) -> np.ndarray:
    """Window the HU stack to uint8 and apply CLAHE (opencv) to every slice. ``(n, H, W)`` → uint8."""
    low, high = config.window
    scaled = np.clip((stack_hu - low) * (255.0 / (high - low)), 0, 255).astype(np.uint8)
    clahe = cv2.createCLAHE(clipLimit=config.clahe_clip, tileGridSize=(config.clahe_tiles, config.clahe_tiles))
    return np.stack([clahe.apply(np.ascontiguousarray(s)) for s in scaled]) if len(scaled) else scaled


@dataclass
class SliceStack:
    """A preprocessed case along one axis.

    ``image`` uint8 ``(n, H, W)``; ``labels`` uint8 ``(n, H, W)`` or ``None``; ``points`` fractional
    ``(slice, row, column)`` ``(N, 3)`` with ``point_labels`` ids ``(N,)``; ``spacing_mm`` of the pixels;
    ``body_pixels`` ``(n,)`` the number of pixels of each slice above −500 HU (before windowing and CLAHE,
    which lift air to a few grey levels), for telling slices through the body from empty ones.
    """

    image: np.ndarray
    geometry: SliceGeometry
    labels: np.ndarray | None = None
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    point_labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    spacing_mm: float = 1.0
    body_pixels: np.ndarray | None = None

    def has_body(self, fraction: float = 0.01, area: int | None = None) -> np.ndarray:
        """``(n,)`` bool: slices where more than ``fraction`` of ``area`` pixels (default: a whole slice) are body."""
        area = area or self.image.shape[1] * self.image.shape[2]
        if self.body_pixels is None:
            return np.ones(len(self.image), dtype=bool)
        return self.body_pixels > fraction * area

    def point_pixels(self) -> np.ndarray:
        """Points rounded to integer ``(slice, row, column)`` indices, ``(N, 3)`` int64."""
        return np.rint(self.points).astype(np.int64)


def preprocess_case(
    ct: Volume,
    axis: str,
    config: PreprocessConfig = PreprocessConfig(),
    labels: Volume | None = None,
    points: Points | None = None,
    label_set: LabelSet | None = None,
    full_plane: bool = False,
) -> SliceStack:
    """Build the slice stack of one case along ``axis`` (see the module docstring and :func:`plan_geometry`)."""
    center = points.xyz.mean(axis=0) if points is not None and len(points) else None
    geometry, canonical, resampled = plan_geometry(ct, axis, config, center, full_plane)
    hu = geometry.volume_to_stack(resampled.array.astype(np.float32), fill=AIR_HU)
    body = (hu > -500.0).sum(axis=(1, 2)).astype(np.int64)
    image = enhance(hu, config)
    del hu
    stack = SliceStack(image, geometry, spacing_mm=config.spacing, body_pixels=body)
    if labels is not None:
        if not labels.same_grid(ct):
            raise InputError(f"labels are not on the CT's grid: {labels.grid_difference(ct, names=('labels', 'CT'))}", labels.path)
        label_canonical = Volume(np.ascontiguousarray(reorient(labels)[0].array), canonical.affine)
        label_resampled = resample_to_grid(
            label_canonical, geometry.resampled_shape, geometry.resampled_affine, "nearest", 0
        )
        stack.labels = geometry.volume_to_stack(label_resampled.array.astype(np.uint8), fill=0)
    if points is not None and len(points):
        if label_set is None:
            raise ValueError("label_set is needed to convert point labels to ids")
        stack.points = geometry.world_to_slice(points.xyz)
        stack.point_labels = points.label_ids(label_set)
    return stack
