"""Label sets: named, versioned mappings from label id to class name.

The default set ``lumbar`` is the contract of label files and ``points.csv``: 0 background, 1 L1 … 5 L5.
New sets are added to :data:`LABEL_SETS`; nothing else in the code hard-codes class names.
"""

from __future__ import annotations

from dataclasses import dataclass

from pointseg.errors import InputError

# Colours (RGB 0-255) shared by previews, reports and the napari plugin.
_VERTEBRA_COLORS = {
    "L1": (230, 25, 75),
    "L2": (60, 180, 75),
    "L3": (255, 225, 25),
    "L4": (0, 130, 200),
    "L5": (245, 130, 48),
    "L6": (145, 30, 180),
}
_BACKGROUND_COLOR = (128, 128, 128)


@dataclass(frozen=True)
class LabelSet:
    """An ordered list of class names; the position of a name is its label id."""

    name: str
    version: int
    names: tuple[str, ...]

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
            return self.names.index(name)
        except ValueError:
            raise InputError(f"unknown label {name!r} (label set {self.name!r} has {', '.join(self.names)})") from None

    def name_of(self, label_id: int) -> str:
        if not 0 <= int(label_id) < len(self.names):
            raise InputError(f"label id {label_id} is outside label set {self.name!r} (0..{len(self.names) - 1})")
        return self.names[int(label_id)]

    def color_of(self, name: str) -> tuple[int, int, int]:
        return _VERTEBRA_COLORS.get(name, _BACKGROUND_COLOR)


LABEL_SETS: dict[str, LabelSet] = {
    "lumbar": LabelSet("lumbar", 1, ("background", "L1", "L2", "L3", "L4", "L5")),
    "lumbar6": LabelSet("lumbar6", 1, ("background", "L1", "L2", "L3", "L4", "L5", "L6")),
}
DEFAULT_LABEL_SET = "lumbar"


def get_label_set(name: str = DEFAULT_LABEL_SET) -> LabelSet:
    """Look up a label set by name; :class:`InputError` listing the known ones otherwise."""
    try:
        return LABEL_SETS[name]
    except KeyError:
        raise InputError(f"unknown label set {name!r} (known: {', '.join(sorted(LABEL_SETS))})") from None
