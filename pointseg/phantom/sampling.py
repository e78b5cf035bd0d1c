"""Pieces of the per-case parameters that both phantoms draw: bone density, fat layers, the uniform draw they
take, and ``plain``, which turns parameters into the JSON record of a case (``phantom.json``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from typing import Callable

# ``uni(spread)``: uniform in [-spread, spread] times the config's variation.
Uniform = Callable[[float], float]


@dataclass(frozen=True)
class FatLayers:
    """Fat thickness in mm (ranges for variation 1).

    Attributes
    ----------
    lateral, anterior, posterior : float
        Subcutaneous fat at the sides 20 +- 10, in front 22 +- 12 and at the back 12 +- 8.
    wall : float
        Thickness of the muscle wall, 10 +- 2.5.
    """

    lateral: float
    anterior: float
    posterior: float
    wall: float

    @classmethod
    def sample(cls, uni: Uniform) -> FatLayers:
        """Draw the four thicknesses in the order of the fields."""
        return cls(20.0 + uni(10.0), 22.0 + uni(12.0), 12.0 + uni(8.0), 10.0 + uni(2.5))


@dataclass(frozen=True)
class BoneDensity:
    """Bone HU and cortex (ranges for variation 1).

    Attributes
    ----------
    cortical : float
        HU of the cortical shell, 950 +- 200.
    cancellous : float
        HU of the cancellous interior, 225 +- 70.
    t_cort : float
        Cortical thickness in mm, 1.75 +- 0.25 (ribs and ilia use their own).
    texture : float
        Standard deviation (HU) of the trabecular texture, 30.
    """

    cortical: float
    cancellous: float
    t_cort: float
    texture: float

    @classmethod
    def sample(cls, uni: Uniform) -> BoneDensity:
        """Draw cortical, cancellous HU and cortical thickness, in that order."""
        return cls(950.0 + uni(200.0), 225.0 + uni(70.0), 1.75 + uni(0.25), 30.0)


def plain(value):
    """``value`` with dataclasses as dicts (field order) and tuples as lists, recursively."""
    if is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (tuple, list)):
        return [plain(x) for x in value]
    return value
