"""Settings of the synthetic lumbar CT and the random parameters of one case.

``PhantomConfig`` is chosen by the caller; ``PhantomParams.sample`` draws everything else that varies from
case to case from a seeded generator, first, so that the painting that follows is deterministic and a
case can be replayed from its parameters. ``BoneDensity`` and ``FatLayers`` are shared with the upper body
(``pointseg.phantom.sampling``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from pointseg.phantom.lumbar.anatomy import LEVELS
from pointseg.phantom.sampling import BoneDensity, FatLayers, plain
from pointseg.phantom.tissue import HU_BLOOD


@dataclass(frozen=True)
class PhantomConfig:
    """Settings of the synthetic CT.

    Attributes
    ----------
    spacing : tuple of 3 float
        Voxel size in mm along array axes (i, j, k) = (R-L, A-P, S-I).
    fov_mm : tuple of 3 float
        Field of view in mm along R-L, A-P, S-I; the shape is
        ``round(fov_mm / spacing)`` (less along S-I when the FOV is cut).
    noise_hu : float
        Standard deviation of the additive Gaussian noise, in HU.
    blur_mm : float
        Sigma of the Gaussian partial-volume blur, in mm.
    fov_cut_prob : float
        Probability that the S-I field of view cuts through L1 or L5.
    variation : float
        Spread between cases: 0 gives the mean anatomy, 1 the default spread.
    """

    spacing: tuple[float, float, float] = (1.5, 1.5, 1.5)
    fov_mm: tuple[float, float, float] = (280.0, 220.0, 250.0)
    noise_hu: float = 20.0
    blur_mm: float = 0.7
    fov_cut_prob: float = 0.3
    variation: float = 1.0


@dataclass(frozen=True)
class FovCut:
    """Where the S-I field of view cuts a vertebra.

    Attributes
    ----------
    vertebra : str
        "L1" (the top of the FOV) or "L5" (the bottom).
    fraction : float
        Height of the cut from the body centre, in body heights, in [-0.35, 0.35].
    """

    vertebra: str
    fraction: float

    @classmethod
    def sample(cls, rng: np.random.Generator, prob: float) -> FovCut | None:
        """A cut with probability ``prob``, else None (three draws either way)."""
        draw, which, fraction = rng.random(), int(rng.integers(2)), float(rng.uniform(-0.35, 0.35))
        return cls(("L1", "L5")[which], fraction) if draw < prob else None


@dataclass(frozen=True)
class PhantomParams:
    """Random parameters of one case; ranges below are for variation 1 and scale with it.

    Attributes
    ----------
    config : PhantomConfig
        The settings the case was drawn with.
    scale : float
        Size factor of all bones, 1 +- 0.10.
    lordosis : float
        Factor on the mean lordosis, 1 +- 0.45, clipped to [0.3, 2].
    scoliosis_mm : float
        Lateral offset of the C-shaped scoliosis, normal with sigma 5 mm (14 mm in one case of four),
        clipped to [-30, 30].
    global_rot_deg : tuple of 3 float
        Rotation of the whole spine about R-L, A-P, S-I, each +- 5 degrees.
    shift_mm : tuple of 3 float
        Displacement of L3 from the origin, each +- 15 mm.
    axial_rot_deg : tuple of float
        Per level T11..L5, axial rotation, normal with sigma 2 degrees.
    level_jitter : tuple of (float, float, float)
        Per level, factors on body width, depth and height, each 1 +- 0.04.
    disc_jitter : tuple of float
        Per level, factor on the disc height below it, 1 +- 0.12.
    pelvic_tilt_deg : float
        Tilt of the pelvis about R-L, +- 6 degrees.
    crest_mm : float
        Height offset of the iliac crests, +- 8 mm.
    torso_semi_mm : tuple of 2 float
        Semi-axes of the torso, R-L 160 +- 10 and A-P 117.5 +- 7.5 mm.
    fat_mm : FatLayers
        Fat thicknesses and muscle wall.
    muscle_hu : float
        HU of muscle, 50 +- 8.
    contrast : bool
        Intravenous contrast, with probability 0.4 (times the variation, when below 1).
    aorta_hu : float
        HU of the aorta: 200 +- 50 with contrast, else blood (40).
    bone : BoneDensity
        Bone HU and cortical thickness.
    organ_jitter_mm : tuple of 6 (float, float, float)
        Offsets of stomach, liver, spleen, right and left kidney (the sixth is unused), each +- 8 mm.
    bowel_seed : int
        Seed of the bowel loops' own generator, in [0, 2**31 - 1).
    fov_cut : FovCut or None
        The cut of the field of view, drawn with probability ``config.fov_cut_prob``.
    """

    config: PhantomConfig
    scale: float
    lordosis: float
    scoliosis_mm: float
    global_rot_deg: tuple[float, float, float]
    shift_mm: tuple[float, float, float]
    axial_rot_deg: tuple[float, ...]
    level_jitter: tuple[tuple[float, float, float], ...]
    disc_jitter: tuple[float, ...]
    pelvic_tilt_deg: float
    crest_mm: float
    torso_semi_mm: tuple[float, float]
    fat_mm: FatLayers
    muscle_hu: float
    contrast: bool
    aorta_hu: float
    bone: BoneDensity
    organ_jitter_mm: tuple[tuple[float, float, float], ...]
    bowel_seed: int
    fov_cut: FovCut | None

    @classmethod
    def sample(cls, rng: np.random.Generator, config: PhantomConfig) -> PhantomParams:
        """Draw all per-case parameters from ``rng``, in a fixed order (the same seed, the same case)."""
        var = float(config.variation)

        def uni(spread: float) -> float:
            return float(rng.uniform(-1.0, 1.0) * spread * var)

        def unis(spread: float, n: int) -> tuple[float, ...]:
            return tuple(uni(spread) for _ in range(n))

        scale = 1.0 + uni(0.10)
        lordosis = float(np.clip(1.0 + uni(0.45), 0.3, 2.0))
        big = rng.random() < 0.25
        scoliosis_mm = float(np.clip(rng.normal(0.0, (14.0 if big else 5.0) * var), -30, 30))
        global_rot_deg, shift_mm = unis(5.0, 3), unis(15.0, 3)
        axial_rot_deg = tuple(float(rng.normal(0.0, 2.0 * var)) for _ in LEVELS)
        level_jitter = tuple(tuple(1.0 + x for x in unis(0.04, 3)) for _ in LEVELS)
        disc_jitter = tuple(1.0 + uni(0.12) for _ in LEVELS)
        pelvic_tilt_deg, crest_mm = uni(6.0), uni(8.0)
        torso_semi_mm = (160.0 + uni(10.0), 117.5 + uni(7.5))
        fat_mm = FatLayers.sample(uni)
        muscle_hu = 50.0 + uni(8.0)
        contrast = bool(rng.random() < 0.4 * min(var, 1.0))
        aorta_hu = 200.0 + uni(50.0) if contrast else HU_BLOOD
        bone = BoneDensity.sample(uni)
        organ_jitter_mm = tuple(unis(8.0, 3) for _ in range(6))
        bowel_seed = int(rng.integers(0, 2**31 - 1))
        fov_cut = FovCut.sample(rng, config.fov_cut_prob)
        return cls(config, scale, lordosis, scoliosis_mm, global_rot_deg, shift_mm, axial_rot_deg,
                   level_jitter, disc_jitter, pelvic_tilt_deg, crest_mm, torso_semi_mm, fat_mm, muscle_hu,
                   contrast, aorta_hu, bone, organ_jitter_mm, bowel_seed, fov_cut)

    def to_record(self, seed: int, shape: Sequence[int], fov_cut_z_mm: float | None) -> dict:
        """JSON-serialisable record (``phantom.json``): the fields, then ``seed`` and ``shape``.

        Tuples become lists and dataclasses dicts; ``fov_cut`` also gets ``z_mm``, the world S-I
        height (mm) of the cut.
        """
        record = plain(self)
        if record["fov_cut"] is not None:
            record["fov_cut"]["z_mm"] = fov_cut_z_mm
        record["seed"] = int(seed)
        record["shape"] = [int(n) for n in shape]
        return record

