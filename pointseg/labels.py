"""Label sets: named, versioned mappings from label id to class name, with what per-class code needs.

The default set ``lumbar`` is the contract of label files and ``points.csv``: 0 background, 1 L1 … 5 L5.
The upper-body sets use TotalSegmentator's structure names where one exists (``vertebrae_T7``,
``rib_left_3``, ``hip_right``, ``urinary_bladder``):

* ``spine`` — C1…L5 (each vertebra whole: body and posterior elements);
* ``ribs`` — rib_left_1…12, rib_right_1…12;
* ``bones`` — every bone of the upper-body phantom: the spine, the ribs, sternum, costal cartilages,
  clavicles, scapulae, humeri, sacrum, hip bones and femora (62 bones);
* ``organs`` — lungs, heart, liver, spleen, kidneys and bladder.

Each class carries a :class:`Structure`: its group (``vertebrae``, ``ribs``, ``large_bones``, ``organs``),
used to report quality and cost per group, and its extent radius, the largest distance from a click at
which the structure may still be present (the weak extent loss L_E; 110 mm suits a vertebra, a femur
needs more). New sets are added to :data:`LABEL_SETS`; nothing else in the code hard-codes class names.
"""

from __future__ import annotations

import colorsys
import hashlib
from dataclasses import dataclass, field

import numpy as np

from pointseg.errors import InputError

BACKGROUND = "background"
LUMBAR = ("L1", "L2", "L3", "L4", "L5")
CERVICAL = tuple(f"C{n}" for n in range(1, 8))
THORACIC = tuple(f"T{n}" for n in range(1, 13))
SIDES = ("left", "right")


@dataclass(frozen=True)
class Structure:
    """What per-class code needs to know about one structure."""

    group: str  # "background", "vertebrae", "ribs", "large_bones", "organs"
    extent_mm: float  # the weak extent loss's radius r: no voxel of it lies farther from any of its clicks

    @property
    def bone(self) -> bool:
        """Bone (its boundary is where the CT's bone ends), not soft tissue."""
        return self.group in ("vertebrae", "ribs", "large_bones")


VERTEBRA = Structure("vertebrae", 110.0)
GROUPS = ("vertebrae", "ribs", "large_bones", "organs")

# Extent radii: the structure's longest dimension in an adult, with a margin (mm).
_LARGE_BONES = {
    "sternum": 150.0, "costal_cartilages": 220.0, "clavicula": 140.0, "scapula": 160.0, "humerus": 260.0,
    "sacrum": 110.0, "hip": 200.0, "femur": 260.0,
}
_ORGANS = {
    "lung": 240.0, "heart": 130.0, "liver": 200.0, "spleen": 130.0, "kidney": 110.0, "urinary_bladder": 90.0,
}


def _sided(names: dict[str, float], paired: set[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, extent in names.items():
        for full in ([f"{name}_{side}" for side in SIDES] if name in paired else [name]):
            out[full] = extent
    return out


def vertebra_name(level: str) -> str:
    """TotalSegmentator's name of a vertebra level (``T7`` → ``vertebrae_T7``)."""
    return f"vertebrae_{level}"


def rib_name(side: str, number: int) -> str:
    return f"rib_{side}_{number}"


SPINE_NAMES = tuple(vertebra_name(level) for level in CERVICAL + THORACIC + LUMBAR)
_ALIASES = {**{level: vertebra_name(level) for level in LUMBAR + ("L6",)},
            **{vertebra_name(level): level for level in LUMBAR + ("L6",)}}
RIB_NAMES = tuple(rib_name(side, n) for side in SIDES for n in range(1, 13))
LARGE_BONE_NAMES = tuple(_sided(_LARGE_BONES, {"clavicula", "scapula", "humerus", "hip", "femur"}))
ORGAN_NAMES = tuple(_sided(_ORGANS, {"lung", "kidney"}))

STRUCTURES: dict[str, Structure] = {
    BACKGROUND: Structure("background", 0.0),
    **{name: VERTEBRA for name in LUMBAR + ("L6",) + SPINE_NAMES + (vertebra_name("L6"),)},
    **{name: Structure("ribs", 170.0) for name in RIB_NAMES},
    **{name: Structure("large_bones", extent) for name, extent in _sided(
        _LARGE_BONES, {"clavicula", "scapula", "humerus", "hip", "femur"}).items()},
    **{name: Structure("organs", extent) for name, extent in _sided(_ORGANS, {"lung", "kidney"}).items()},
}

# Colours (RGB 0-255) shared by previews, reports and the napari plugin. The lumbar vertebrae keep the
# colours they always had; every other name gets one from a hash of the name (stable across label sets).
_FIXED_COLORS = {
    "L1": (230, 25, 75),
    "L2": (60, 180, 75),
    "L3": (255, 225, 25),
    "L4": (0, 130, 200),
    "L5": (245, 130, 48),
    "L6": (145, 30, 180),
    BACKGROUND: (128, 128, 128),
}


def color_of_name(name: str) -> tuple[int, int, int]:
    """A vivid colour for ``name``, the same in every label set and every run."""
    if name in _FIXED_COLORS:
        return _FIXED_COLORS[name]
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    hue = int.from_bytes(digest[:4], "little") / 2**32
    saturation = 0.55 + 0.4 * digest[4] / 255
    value = 0.7 + 0.3 * digest[5] / 255
    return tuple(round(255 * c) for c in colorsys.hsv_to_rgb(hue, saturation, value))  # type: ignore[return-value]


@dataclass(frozen=True)
class LabelSet:
    """An ordered list of class names; the position of a name is its label id."""

    name: str
    version: int
    names: tuple[str, ...]
    description: str = ""
    _index: dict = field(default=None, init=False, repr=False, compare=False)  # type: ignore[assignment]

    def __post_init__(self):
        unknown = [n for n in self.names if n not in STRUCTURES]
        if unknown:
            raise ValueError(f"label set {self.name!r}: no structure information for {', '.join(unknown)}")
        if len(set(self.names)) != len(self.names) or self.names[0] != BACKGROUND:
            raise ValueError(f"label set {self.name!r}: names must be unique and start with background")
        object.__setattr__(self, "_index", {n: i for i, n in enumerate(self.names)})

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(range(len(self.names)))

    @property
    def num_classes(self) -> int:
        return len(self.names)

    @property
    def foreground(self) -> tuple[str, ...]:
        """Every class but background."""
        return self.names[1:]

    def id_of(self, name: str) -> int:
        """Label id of a class name; :class:`InputError` for a name the set does not know."""
        try:
            return self._index[name]
        except KeyError:
            shown = ", ".join(self.names) if len(self.names) <= 12 else ", ".join(self.names[:8]) + ", …"
            raise InputError(f"unknown label {name!r} (label set {self.name!r} has {shown})") from None

    def name_of(self, label_id: int) -> str:
        if not 0 <= int(label_id) < len(self.names):
            raise InputError(f"label id {label_id} is outside label set {self.name!r} (0..{len(self.names) - 1})")
        return self.names[int(label_id)]

    def color_of(self, name: str) -> tuple[int, int, int]:
        return color_of_name(name)

    def structure(self, name: str) -> Structure:
        return STRUCTURES[name]

    def group_of(self, name: str) -> str:
        return STRUCTURES[name].group

    def groups(self) -> dict[str, tuple[str, ...]]:
        """The foreground classes by group, groups in :data:`GROUPS` order (only those present)."""
        out = {group: tuple(n for n in self.foreground if STRUCTURES[n].group == group) for group in GROUPS}
        return {group: names for group, names in out.items() if names}

    def bone_ids(self) -> tuple[int, ...]:
        """The label ids of the bones of the set."""
        return tuple(i for i, n in enumerate(self.names) if STRUCTURES[n].bone)

    def extent_radii(self) -> tuple[float, ...]:
        """The extent radius of every class, by label id (background 0: no extent prior)."""
        return tuple(STRUCTURES[n].extent_mm for n in self.names)


LABEL_SETS: dict[str, LabelSet] = {
    "lumbar": LabelSet("lumbar", 1, (BACKGROUND,) + LUMBAR, "L1–L5"),
    "lumbar6": LabelSet("lumbar6", 1, (BACKGROUND,) + LUMBAR + ("L6",), "L1–L6"),
    "spine": LabelSet("spine", 1, (BACKGROUND,) + SPINE_NAMES, "C1–L5, TotalSegmentator names"),
    "ribs": LabelSet("ribs", 1, (BACKGROUND,) + RIB_NAMES, "24 ribs"),
    "bones": LabelSet("bones", 1, (BACKGROUND,) + SPINE_NAMES + RIB_NAMES + LARGE_BONE_NAMES,
                      "every bone of the upper body (61)"),
    "organs": LabelSet("organs", 1, (BACKGROUND,) + ORGAN_NAMES, "lungs, heart, liver, spleen, kidneys, bladder"),
    # Everything the upper-body phantom labels; the sets above are views of it (see remap_labels).
    "upper_body": LabelSet("upper_body", 1, (BACKGROUND,) + SPINE_NAMES + RIB_NAMES + LARGE_BONE_NAMES + ORGAN_NAMES,
                           "every bone and organ of the upper-body phantom"),
}
DEFAULT_LABEL_SET = "lumbar"


def remap_table(source: LabelSet, target: LabelSet) -> np.ndarray:
    """``table[source id]`` = the target id of the same name; names the target lacks become background.

    Lumbar names and TotalSegmentator's (``L3`` and ``vertebrae_L3``) are the same structure."""
    table = np.zeros(source.num_classes, dtype=np.uint8 if target.num_classes <= 256 else np.uint16)
    for i, name in enumerate(source.names):
        for candidate in (name, _ALIASES.get(name)):
            if candidate is not None and candidate in target._index:
                table[i] = target._index[candidate]
                break
    return table


def remap_labels(labels: np.ndarray, source: LabelSet, target: LabelSet) -> np.ndarray:
    """A label map of ``source`` ids as ``target`` ids (by name; see :func:`remap_table`)."""
    if source == target:
        return labels
    table = remap_table(source, target)
    if labels.size and int(labels.max()) >= source.num_classes:
        raise InputError(f"label id {int(labels.max())} is outside label set {source.name!r} (0..{source.num_classes - 1})")
    return table[labels]


def get_label_set(name: str = DEFAULT_LABEL_SET) -> LabelSet:
    """Look up a label set by name; :class:`InputError` listing the known ones otherwise."""
    try:
        return LABEL_SETS[name]
    except KeyError:
        raise InputError(f"unknown label set {name!r} (known: {', '.join(sorted(LABEL_SETS))})") from None
