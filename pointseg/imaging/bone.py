"""Bone-aware relabelling of a coarse label map on the CT: where each class ends is where bone ends.

:class:`BoneWatershed` takes a label map that says roughly *which* structure is where (fused planar
predictions, or a supervised model's output), its class probabilities and the CT, and re-draws every
class's boundary on the image:

1. bone = the CT smoothed with a small Gaussian above ``bone_hu``, closed by ``close_mm`` and with the
   holes of every axial slice filled (the marrow inside the cortical shell is often below the threshold,
   and in older patients the shell itself is thin and broken by noise);
2. each class keeps its connected components that hold one of its clicks (the largest when it has no
   click), and may only take bone within ``reach_mm`` of its own clicks (a vertebra's size), or, without
   clicks, within ``grow_mm`` of where the coarse map put it — so a vertebra nobody clicked (a T12 above
   L1, the sacrum below L5) is not handed to its clicked neighbour, and a level mistake of the networks
   cannot carry a class to the next vertebra;
3. seeds: every click (a small ball, bone or not), and the coarse map's confident bone voxels within
   ``seed_mm`` of the class's clicks and inside bone components that hold one of its clicks (so a vessel
   with contrast next to a vertebral body seeds nothing); bone out of every class's reach and the
   background clicks seed the background;
4. a marker-based watershed (scikit-image) on the gradient magnitude of the smoothed CT floods the bone
   from the seeds, so neighbouring vertebrae meet where the image has an edge (the disc, the facet joint)
   rather than where a coarse network output switched, and the soft tissue that the coarse map spilled
   into (in front of the vertebral bodies) is dropped;
5. per class, holes are filled in 3D and in every axial slice.

Bone left unreached by any class seed stays background. Only a box around the remaining foreground
(plus ``grow_mm``) is processed, so the time depends on the spine, not on the size of the scan.
:mod:`pointseg.predict.steps` registers it as a pseudo-mask refinement; supervised runs use it as their
post-processing (without clicks).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import numpy as np
from scipy import ndimage
from skimage.segmentation import watershed

from pointseg.errors import InputError
from pointseg.labels import VERTEBRA
from pointseg.imaging.morphology import ellipsoid_element

VERTEBRA_EXTENT_MM = VERTEBRA.extent_mm


def foreground_box(mask: np.ndarray, margin: tuple[int, ...]) -> tuple[slice, ...] | None:
    """The bounding box of ``mask`` grown by ``margin`` voxels per axis and clipped to the array; None if empty."""
    if not mask.any():
        return None
    box = []
    for axis, pad in enumerate(margin):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        present = np.flatnonzero(mask.any(axis=other))
        box.append(slice(max(int(present[0]) - pad, 0), min(int(present[-1]) + pad + 1, mask.shape[axis])))
    return tuple(box)


def slice_axis(affine: np.ndarray) -> int:
    """The array axis closest to the patient's superior-inferior direction."""
    directions = np.abs(affine[:3, :3] / np.linalg.norm(affine[:3, :3], axis=0))
    return int(np.argmax(directions[2]))


def keep_clicked_components(labels: np.ndarray, click_vox: np.ndarray, ids: np.ndarray, num_classes: int) -> np.ndarray:
    """Per class, the connected components of ``labels == c`` that hold a click of c (the largest when none
    does); stray blobs far from the spine are dropped before anything else looks at them."""
    out = np.zeros_like(labels)
    boxes = ndimage.find_objects(labels, max_label=num_classes - 1)
    for c, box in enumerate(boxes, start=1):
        if box is None:
            continue
        components, count = ndimage.label(labels[box] == c)
        offset = np.array([s.start for s in box])
        stop = np.array([s.stop for s in box])
        local = click_vox[(ids == c) & np.all((click_vox >= offset) & (click_vox < stop), axis=1)] - offset
        keep = set(int(v) for v in components[tuple(local.T)] if v > 0) if len(local) else set()
        if not keep and count:
            keep = {int(np.argmax(np.bincount(components.ravel())[1:])) + 1}
        region = out[box]
        region[np.isin(components, list(keep))] = c
    return out


def fill_holes_2d(mask: np.ndarray, axis: int) -> np.ndarray:
    """Fill holes in every 2D slice of ``mask`` taken across ``axis``."""
    out = np.moveaxis(mask.copy(), axis, 0)
    for n in range(out.shape[0]):
        if out[n].any():
            out[n] = ndimage.binary_fill_holes(out[n])
    return np.moveaxis(out, 0, axis)


class BoneWatershed:
    """Seeded watershed of the coarse classes on the CT's bone (see the module docstring).

    ``BoneWatershed(**params)(labels, probs, ct, clicks) -> labels``: ``labels`` (I, J, K) uint8; ``probs``
    indexable like (I, J, K, C) — or, all that is read of it, the probability of each voxel's own label
    (I, J, K), which keeps the memory of 60+ classes at a fraction of the CT's; ``ct`` the CT
    :class:`~pointseg.io.volume.Volume` (HU; its affine gives the spacing and the axial slices); ``clicks``
    ((N, 3) voxel indices, (N,) class ids; may be empty).

    Args:
        bone_hu: HU above which the smoothed CT counts as bone.
        close_mm: morphological closing of the bone mask before its holes are filled (bridges a thin,
            noisy cortical shell); 0 switches it off.
        reach_mm: a clicked class may only take bone within this distance of its own clicks (None: the
            fused mask grown by ``grow_mm`` decides, as it does for classes without clicks); one value, or
            one per class id (a femur reaches farther from its clicks than a vertebra).
        classes: the class ids to re-draw on bone (None: all); the others (organs) keep the coarse map.
        slab_fraction, slab_margin_mm: a scan whose foreground box is larger than ``slab_fraction`` of the
            volume is refined in slabs along the axial axis, each with ``slab_margin_mm`` of context on
            either side, so memory stays a few times the CT's.
        grow_mm: how far (mm) a class without clicks may extend beyond the coarse mask.
        confident: probability above which a bone voxel of the coarse mask seeds its class.
        seed_mm: a clicked class is only seeded by the coarse mask within this distance of its own clicks
            (None: anywhere); the clicks themselves always seed.
        far_mm: when given, bone that the coarse mask gives to a class but that lies farther than this from
            all of the class's clicks seeds the background (a T12 the networks call L1).
        click_mm: radius of the ball each click seeds, bone or not.
        sigma_mm: Gaussian smoothing of the CT before thresholding and the gradient.
        axial_axis: the array axis of axial slices for 2D hole filling (None: the one closest to the CT's
            superior-inferior direction).

    The defaults were chosen on 3 phantoms and the two real scans of ``benchmarks/real_ct.py``.
    """

    def __init__(self, bone_hu: float = 150.0, grow_mm: float = 6.0, confident: float = 0.6, sigma_mm: float = 0.5,
                 axial_axis: int | None = None, seed_mm: float | None = 10.0, far_mm: float | None = None,
                 reach_mm: float | Sequence[float] | None = 40.0, click_mm: float = 2.0, close_mm: float = 2.0,
                 classes: Sequence[int] | None = None, slab_fraction: float = 0.25, slab_margin_mm: float = 20.0):
        if not (np.isfinite(grow_mm) and grow_mm >= 0 and 0 < confident <= 1 and sigma_mm >= 0 and close_mm >= 0):
            raise InputError(f"bone_watershed needs grow_mm >= 0, 0 < confident <= 1, sigma_mm >= 0, close_mm >= 0; "
                             f"got grow_mm={grow_mm}, confident={confident}, sigma_mm={sigma_mm}, close_mm={close_mm}")
        self.bone_hu = float(bone_hu)
        self.grow_mm = float(grow_mm)
        self.confident = float(confident)
        self.sigma_mm = float(sigma_mm)
        self.axial_axis = axial_axis
        self.seed_mm = seed_mm
        self.far_mm = far_mm
        self.reach_mm = reach_mm
        self.click_mm = float(click_mm)
        self.close_mm = float(close_mm)
        self.classes = None if classes is None else {int(c) for c in classes}
        self.slab_fraction = float(slab_fraction)
        self.slab_margin_mm = float(slab_margin_mm)

    @classmethod
    def for_label_set(cls, label_set, **options) -> "BoneWatershed":
        """The refinement for ``label_set``: only its bones are re-drawn, each within a reach that grows with
        the structure (``reach_mm`` for a vertebra, ``reach_mm / 110`` of the extent radius for longer
        bones: about 95 mm for a femur, 60 mm for a rib); explicit ``options`` win."""
        base = options.pop("reach_mm", inspect.signature(cls.__init__).parameters["reach_mm"].default)
        if base is not None and not np.ndim(base):
            extents = np.asarray(label_set.extent_radii())
            base = tuple(np.maximum(base, base / VERTEBRA_EXTENT_MM * extents).tolist())
        options.setdefault("classes", label_set.bone_ids())
        return cls(reach_mm=base, **options)

    def _reach(self, num_classes: int) -> np.ndarray | None:
        if self.reach_mm is None:
            return None
        return np.broadcast_to(np.asarray(self.reach_mm, dtype=np.float64), (num_classes,))

    def __call__(self, labels, probs, ct, clicks):
        labels = np.asarray(labels, dtype=np.uint8)
        spacing = [float(v) for v in ct.spacing]
        axial = self.axial_axis if self.axial_axis is not None else slice_axis(ct.affine)
        ijk, ids = clicks
        num_classes = int(np.shape(probs)[-1]) if np.ndim(probs) == 4 else int(labels.max()) + 1
        num_classes = max(num_classes, int(np.max(clicks[1], initial=0)) + 1)
        if self.reach_mm is not None and np.ndim(self.reach_mm):
            # one reach per class of the label set: a case without its last classes still has them all
            num_classes = max(num_classes, len(self.reach_mm))
        reach = self._reach(num_classes)
        click_vox = np.clip(np.rint(np.asarray(ijk, dtype=np.float64)).astype(np.int64).reshape(-1, 3), 0,
                            np.array(labels.shape) - 1)
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        labels = keep_clicked_components(labels, click_vox, ids, num_classes)
        seeds_mask = labels > 0
        seeds_mask[tuple(click_vox[ids > 0].T)] = True
        widest = max(self.grow_mm, float(reach.max()) if reach is not None else 0.0)
        margin = tuple(int(np.ceil((widest + 3 * self.sigma_mm) / s)) + 2 for s in spacing)
        box = foreground_box(seeds_mask, margin)
        del seeds_mask
        out = np.zeros_like(labels)
        if box is None:
            return out
        for core, padded in self._slabs(box, axial, spacing, labels.size):
            local_out = self._refine(labels, probs, ct, padded, click_vox, ids, num_classes, reach, spacing, axial)
            inner = tuple(slice(c.start - p.start, c.stop - p.start) for c, p in zip(core, padded))
            out[core] = local_out[inner]
        return out

    def _slabs(self, box: tuple[slice, ...], axial: int, spacing, volume_voxels: int):
        """(core, padded) boxes that cover ``box`` in slabs along the axial axis, each padded by
        ``slab_margin_mm`` and at most ``slab_fraction`` of the volume (the watershed and its inputs take
        about 14 bytes per voxel, so memory stays a few times the CT's however tall the scan is)."""
        extent = [s.stop - s.start for s in box]
        plane = int(np.prod(extent)) // extent[axial]
        budget = max(int(self.slab_fraction * volume_voxels) // max(plane, 1), 1)
        pad = int(np.ceil(self.slab_margin_mm / spacing[axial]))
        core = max(budget - 2 * pad, 2 * pad, 8)
        if extent[axial] <= core + 2 * pad:
            yield box, box
            return
        stop_all = box[axial].stop
        for start in range(box[axial].start, stop_all, core):
            stop = min(start + core, stop_all)
            low, high = max(start - pad, box[axial].start), min(stop + pad, stop_all)
            core_box = box[:axial] + (slice(start, stop),) + box[axial + 1:]
            yield core_box, box[:axial] + (slice(low, high),) + box[axial + 1:]

    def _refine(self, labels, probs, ct, box, click_vox, ids, num_classes, reach, spacing, axial) -> np.ndarray:
        """The refined labels of ``box`` (uint8, the box's shape)."""
        local_labels = labels[box]
        local_confidence = _confidence(probs, box, local_labels)
        local_ct = np.asarray(ct.array[box], dtype=np.float32)
        bone = ndimage.gaussian_filter(local_ct, [self.sigma_mm / s for s in spacing]) > self.bone_hu
        if self.close_mm > 0:  # bridge gaps in a thin, noisy cortical shell before filling what it encloses
            bone = ndimage.binary_closing(bone, structure=ellipsoid_element(self.close_mm, spacing), border_value=0)
        bone = fill_holes_2d(bone, axial)  # the marrow inside the cortical shell

        # Markers: 1..C-1 the classes, C the background (mapped back to 0 at the end).
        markers = np.zeros(local_labels.shape, dtype=np.int32)
        allowed = np.zeros(local_labels.shape, dtype=bool)
        grow = ellipsoid_element(self.grow_mm, spacing)
        components, _ = ndimage.label(bone, structure=ndimage.generate_binary_structure(3, 3))
        offset = np.array([s.start for s in box])
        all_clicks = click_vox - offset  # also those beyond the box: their reach may still enter it
        inside = np.all((all_clicks >= 0) & (all_clicks < np.array(local_labels.shape)), axis=1)
        local_clicks, local_ids = all_clicks[inside], ids[inside]
        refined = [c for c in range(1, num_classes) if self.classes is None or c in self.classes]
        for c in refined:
            fused = local_labels == c
            mine = all_clicks[ids == c]
            own = local_clicks[local_ids == c]
            near = _NearClicks(mine, local_labels.shape, spacing) if len(mine) else None
            anchored = reach is not None and near is not None
            if anchored:  # a clicked class reaches as far from its clicks as the structure is long
                near.mark(allowed, reach[c])
            if not fused.any():
                continue
            if not anchored:  # without clicks: as far as grow_mm beyond where the coarse map put it
                allowed |= ndimage.binary_dilation(fused, structure=grow) if self.grow_mm > 0 else fused
            seeds = fused & bone & (local_confidence >= self.confident)
            if near is not None and self.seed_mm is not None:  # seeds only near the class's own clicks
                seeds &= near.within(self.seed_mm)
            if near is not None and self.far_mm is not None:
                markers[fused & bone & ~near.within(self.far_mm)] = num_classes
            clicked = {int(v) for v in components[tuple(own.T)] if v > 0}
            if clicked:  # bone apart from every click of c (a vessel with contrast, a rib) seeds nothing
                seeds &= np.isin(components, list(clicked))
            markers[seeds] = c
        del components, local_confidence
        # Bone out of every class's reach, and the background clicks (below), seed the background.
        markers[bone & ~allowed] = num_classes
        markers[~bone] = 0
        del allowed
        # Every click seeds its class in a small ball, bone or not (a click in pale marrow still counts).
        ball = ellipsoid_element(self.click_mm, spacing)
        for c in np.unique(local_ids):
            spot = np.zeros(local_labels.shape, dtype=bool)
            spot[tuple(local_clicks[local_ids == c].T)] = True
            spot = ndimage.binary_dilation(spot, structure=ball)
            markers[spot] = c if c > 0 else num_classes
        mask = bone | (markers > 0)
        del bone
        elevation = ndimage.gaussian_gradient_magnitude(local_ct, [max(self.sigma_mm, 0.5) / s for s in spacing])
        del local_ct
        flooded = watershed(elevation, markers, mask=mask)
        del elevation, markers, mask
        flooded[flooded == num_classes] = 0

        local_out = np.zeros(local_labels.shape, dtype=np.uint8)
        for c in refined:
            mask = flooded == c
            if not mask.any():
                continue
            mask = fill_holes_2d(ndimage.binary_fill_holes(mask), axial)
            local_out[mask & (local_out == 0)] = c
        kept = np.isin(local_labels, [c for c in range(1, num_classes) if c not in set(refined)])
        local_out[kept & (local_out == 0)] = local_labels[kept & (local_out == 0)]
        return local_out


def _confidence(probs, box: tuple[slice, ...], labels: np.ndarray) -> np.ndarray:
    """The probability of each voxel's own label in ``box``: read from all classes (I, J, K, C), given
    (I, J, K), or, when ``probs`` is None (a predictor without probabilities), 1 on every labelled voxel."""
    if probs is None:
        return (labels > 0).astype(np.float32)
    if np.ndim(probs) == 3:
        return np.asarray(probs[box], dtype=np.float32)
    local = np.asarray(probs[box], dtype=np.float32)
    return np.take_along_axis(local, labels[..., None].astype(np.int64), axis=-1)[..., 0]


class _NearClicks:
    """Where a class's clicks are near: the union of balls around them, painted into a box's grid (clicks may
    lie outside the box; only the parts of their balls inside it count)."""

    def __init__(self, clicks: np.ndarray, shape: tuple[int, ...], spacing):
        self.clicks, self.shape, self.spacing = np.asarray(clicks), tuple(shape), np.asarray(spacing, dtype=float)

    def within(self, radius_mm: float) -> np.ndarray:
        out = np.zeros(self.shape, dtype=bool)
        self.mark(out, radius_mm)
        return out

    def mark(self, target: np.ndarray, radius_mm: float) -> None:
        """``target |= (distance to the nearest click <= radius_mm)``."""
        half = np.floor(radius_mm / self.spacing).astype(int)
        for click in self.clicks:
            low = np.maximum(click - half, 0)
            high = np.minimum(click + half + 1, self.shape)
            if np.any(high <= low):
                continue
            axes = [((np.arange(lo, hi) - c) * s) ** 2 for lo, hi, c, s in zip(low, high, click, self.spacing)]
            ball = axes[0][:, None, None] + axes[1][None, :, None] + axes[2][None, None, :] <= radius_mm**2
            target[tuple(slice(lo, hi) for lo, hi in zip(low, high))] |= ball
