"""Settings of the upper-body CT and the random parameters of one case.

``UpperBodyConfig`` is chosen by the caller; ``UpperBodyParams.sample`` draws everything that varies from
case to case from a seeded generator, first, so that the painting that follows is deterministic.
Ranges below are for variation 1 and scale with the config's ``variation``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from pointseg.phantom.sampling import BoneDensity, FatLayers, Uniform, plain
from pointseg.phantom.tissue import HU_BLOOD
from pointseg.phantom.upper_body.anatomy import SPINE


@dataclass(frozen=True)
class UpperBodyConfig:
    """Settings of the synthetic upper-body CT.

    Attributes
    ----------
    spacing : tuple of 3 float
        Voxel size in mm along array axes (i, j, k) = (R-L, A-P, S-I).
    fov_mm : tuple of 2 float
        In-plane field of view in mm, R-L and A-P; S-I spans the neck to mid-femur (less when cut).
    noise_hu, blur_mm : float
        Standard deviation of the Gaussian noise (HU) and sigma of the partial-volume blur (mm).
    fov_cut_prob : float
        Probability that the field of view starts below rib 1 or ends above the femora.
    rib_variant_prob : float
        Probability of 11 or 13 rib pairs (half each) instead of 12.
    variation : float
        Spread between cases: 0 gives the mean anatomy, 1 the default spread.
    """

    spacing: tuple[float, float, float] = (1.5, 1.5, 1.5)
    fov_mm: tuple[float, float] = (540.0, 340.0)
    noise_hu: float = 20.0
    blur_mm: float = 0.7
    fov_cut_prob: float = 0.25
    rib_variant_prob: float = 0.15
    variation: float = 1.0


@dataclass(frozen=True)
class Build:
    """Body size and soft tissue.

    Attributes
    ----------
    scale : float
        Size factor of all bones, 1 +- 0.08.
    chest_width, chest_depth : float
        Factors on the rib cage's width (1 +- 0.06) and depth (1 +- 0.08).
    fat_mm : FatLayers
        Subcutaneous fat and muscle wall (the lumbar phantom's ranges).
    belly_mm : float
        Extra abdominal girth, 0..30 mm.
    muscle_hu : float
        HU of muscle, 50 +- 8.
    """

    scale: float
    chest_width: float
    chest_depth: float
    fat_mm: FatLayers
    belly_mm: float
    muscle_hu: float

    @classmethod
    def sample(cls, uni: Uniform) -> Build:
        """Draw the fields in order."""
        return cls(1.0 + uni(0.08), 1.0 + uni(0.06), 1.0 + uni(0.08), FatLayers.sample(uni), 15.0 + uni(15.0),
                   50.0 + uni(8.0))


@dataclass(frozen=True)
class SpineShape:
    """Curvature of the spine and per-level variation (levels C1..L5).

    Attributes
    ----------
    lordosis, kyphosis, cervical : float
        Factors on the mean lumbar lordosis, thoracic kyphosis and cervical lordosis, 1 +- 0.3.
    balance_mm : float
        A-P offset of C7 from above S1, -15 +- 20 mm (negative: posterior).
    scoliosis_mm : float
        Lateral amplitude of the scoliosis, normal with sigma 5 mm (14 mm in one case of four), within +-35.
    scoliosis_double : bool
        S-shaped (two curves) instead of C-shaped, with probability 0.3.
    axial_rot_deg : tuple of float
        Per level, axial rotation, normal with sigma 2 degrees.
    level_jitter : tuple of (float, float, float)
        Per level, factors on body width, depth and height, each 1 +- 0.04.
    disc_jitter : tuple of float
        Per level, factor on the disc height below it, 1 +- 0.12.
    """

    lordosis: float
    kyphosis: float
    cervical: float
    balance_mm: float
    scoliosis_mm: float
    scoliosis_double: bool
    axial_rot_deg: tuple[float, ...]
    level_jitter: tuple[tuple[float, float, float], ...]
    disc_jitter: tuple[float, ...]

    @classmethod
    def sample(cls, rng: np.random.Generator, uni: Uniform, var: float) -> SpineShape:
        """Draw the fields in order."""
        lordosis, kyphosis, cervical = (1.0 + uni(0.3) for _ in range(3))
        balance_mm = -15.0 + uni(20.0)
        big = rng.random() < 0.25
        scoliosis_mm = float(np.clip(rng.normal(0.0, (14.0 if big else 5.0) * var), -35.0, 35.0))
        double = bool(rng.random() < 0.3)
        axial = tuple(float(rng.normal(0.0, 2.0 * var)) for _ in SPINE)
        jitter = tuple(tuple(1.0 + uni(0.04) for _ in range(3)) for _ in SPINE)
        discs = tuple(1.0 + uni(0.12) for _ in SPINE)
        return cls(lordosis, kyphosis, cervical, balance_mm, scoliosis_mm, double, axial, jitter, discs)


@dataclass(frozen=True)
class Limbs:
    """Position of the arms and legs; pairs are (right, left).

    Attributes
    ----------
    abduction_deg : tuple of 2 float
        Arm away from the body, 5 +- 4 degrees.
    flexion_deg : tuple of 2 float
        Arm forward, 5 +- 10 degrees.
    elbow_deg : tuple of 2 float
        Elbow flexion, 15 +- 15 degrees (the forearm comes forward and in).
    shrug_mm : float
        Shoulders raised (+) or lowered, +- 10 mm.
    hip_abduction_deg : tuple of 2 float
        Legs apart, 3 +- 4 degrees.
    """

    abduction_deg: tuple[float, float]
    flexion_deg: tuple[float, float]
    elbow_deg: tuple[float, float]
    shrug_mm: float
    hip_abduction_deg: tuple[float, float]

    @classmethod
    def sample(cls, uni: Uniform) -> Limbs:
        """Draw the fields in order."""
        def pair(mean, spread):
            return (mean + uni(spread), mean + uni(spread))
        return cls(pair(5.0, 4.0), pair(5.0, 10.0), pair(15.0, 15.0), uni(10.0), pair(3.0, 4.0))


@dataclass(frozen=True)
class Viscera:
    """Organs and contrast.

    Attributes
    ----------
    contrast : bool
        Intravenous contrast, with probability 0.4 (times the variation, when below 1).
    aorta_hu : float
        HU of the aorta and heart chambers: 220 +- 60 with contrast, else blood (40).
    diaphragm_mm : float
        Height of the diaphragm (inspiration), +- 15 mm.
    heart_scale, liver_scale : float
        Size factors, 1 +- 0.1.
    bladder_fill : float
        Size factor of the bladder, 0.5..1.3.
    organ_jitter_mm : tuple of 5 (float, float, float)
        Offsets of liver, spleen, right and left kidney and stomach, each +- 8 mm.
    bowel_seed : int
        Seed of the bowel loops' and lung vessels' own generator, in [0, 2**31 - 1).
    """

    contrast: bool
    aorta_hu: float
    diaphragm_mm: float
    heart_scale: float
    liver_scale: float
    bladder_fill: float
    organ_jitter_mm: tuple[tuple[float, float, float], ...]
    bowel_seed: int

    @classmethod
    def sample(cls, rng: np.random.Generator, uni: Uniform, var: float) -> Viscera:
        """Draw the fields in order."""
        contrast = bool(rng.random() < 0.4 * min(var, 1.0))
        aorta_hu = 220.0 + uni(60.0) if contrast else HU_BLOOD
        diaphragm, heart, liver, fill = uni(15.0), 1.0 + uni(0.1), 1.0 + uni(0.1), 0.9 + uni(0.4)
        jitter = tuple(tuple(uni(8.0) for _ in range(3)) for _ in range(5))
        return cls(contrast, aorta_hu, diaphragm, heart, liver, fill, jitter, int(rng.integers(0, 2**31 - 1)))


@dataclass(frozen=True)
class UpperFovCut:
    """Where the S-I field of view is cut; None for no cut at that end.

    Attributes
    ----------
    top_mm : float or None
        The FOV starts this far (5..60 mm) below the lowest point of rib 1.
    bottom_mm : float or None
        The FOV ends this far (5..80 mm) above the top of the femora.
    """

    top_mm: float | None
    bottom_mm: float | None

    @classmethod
    def sample(cls, rng: np.random.Generator, prob: float) -> UpperFovCut | None:
        """A cut with probability ``prob`` (top, bottom or both as 45/45/10 %), else None; four draws."""
        draw, which = rng.random(), rng.random()
        top, bottom = float(rng.uniform(5.0, 60.0)), float(rng.uniform(5.0, 80.0))
        if draw >= prob:
            return None
        return cls(top if which < 0.55 else None, bottom if which >= 0.45 else None)


@dataclass(frozen=True)
class UpperBodyParams:
    """Random parameters of one upper-body case.

    Attributes
    ----------
    config : UpperBodyConfig
        The settings the case was drawn with.
    build : Build
        Size and soft tissue.
    spine : SpineShape
        Curvature and per-level variation.
    rib_pairs : int
        11, 12 or 13 (13: an unlabelled rib on L1; 11: no rib 12).
    limbs : Limbs
        Arm and leg position.
    viscera : Viscera
        Organs and contrast.
    bone : BoneDensity
        Bone HU and cortical thickness (the lumbar phantom's ranges).
    cartilage_hu : float
        HU of the costal cartilage, 150 +- 50.
    pelvic_tilt_deg : float
        Tilt of the pelvis about R-L, +- 6 degrees.
    yaw_deg : float
        Rotation of the patient about S-I, +- 4 degrees.
    shift_mm : tuple of 3 float
        Displacement of the patient in the field of view, each +- 15 mm.
    fov_cut : UpperFovCut or None
        The cut of the field of view, drawn with probability ``config.fov_cut_prob``.
    """

    config: UpperBodyConfig
    build: Build
    spine: SpineShape
    rib_pairs: int
    limbs: Limbs
    viscera: Viscera
    bone: BoneDensity
    cartilage_hu: float
    pelvic_tilt_deg: float
    yaw_deg: float
    shift_mm: tuple[float, float, float]
    fov_cut: UpperFovCut | None

    @classmethod
    def sample(cls, rng: np.random.Generator, config: UpperBodyConfig) -> UpperBodyParams:
        """Draw all per-case parameters from ``rng`` in a fixed order (the same seed, the same case)."""
        var = float(config.variation)

        def uni(spread: float) -> float:
            return float(rng.uniform(-1.0, 1.0) * spread * var)

        build = Build.sample(uni)
        spine = SpineShape.sample(rng, uni, var)
        variant, more = rng.random() < config.rib_variant_prob, rng.random() < 0.5
        rib_pairs = (13 if more else 11) if variant else 12
        limbs = Limbs.sample(uni)
        viscera = Viscera.sample(rng, uni, var)
        bone = BoneDensity.sample(uni)
        cartilage_hu = 150.0 + uni(50.0)
        tilt, yaw = uni(6.0), uni(4.0)
        shift = (uni(15.0), uni(15.0), uni(15.0))
        fov_cut = UpperFovCut.sample(rng, config.fov_cut_prob)
        return cls(config, build, spine, rib_pairs, limbs, viscera, bone, cartilage_hu, tilt, yaw, shift, fov_cut)

    def to_record(self, seed: int, shape: Sequence[int], fov_z_mm: tuple[float, float]) -> dict:
        """JSON-serialisable record (``phantom.json``): the fields, ``seed``, ``shape`` and the world S-I range
        of the field of view (``fov_z_mm``: bottom, top)."""
        record = plain(self)
        record["seed"] = int(seed)
        record["shape"] = [int(n) for n in shape]
        record["fov_z_mm"] = [float(z) for z in fov_z_mm]
        return record
