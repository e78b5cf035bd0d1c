"""Fusion strategies on tiny hand-made probability volumes, expected numbers worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from pointseg.errors import InputError
from pointseg.pseudo import DEFAULT_FUSION, FUSIONS, build_fusion, fuse

NONE3 = [0.0, 0.0, 0.0]  # a voxel the model did not see


def volume(*voxels) -> np.ndarray:
    """(n, 1, 1, C) float32 from n probability vectors."""
    return np.asarray(voxels, dtype=np.float32).reshape(len(voxels), 1, 1, -1)


@pytest.fixture
def three() -> dict[str, np.ndarray]:
    """Voxel 0: all three models; voxel 1: axial has no opinion; voxel 2: nobody has an opinion."""
    return {
        "axial": volume([0.6, 0.3, 0.1], NONE3, NONE3),
        "coronal": volume([0.2, 0.5, 0.3], [0.2, 0.6, 0.2], NONE3),
        "sagittal": volume([0.1, 0.1, 0.8], [0.4, 0.4, 0.2], NONE3),
    }


def test_mean(three):
    fused = fuse(three, "mean")
    assert fused.dtype == np.float32 and fused.shape == (3, 1, 1, 3)
    # voxel 0: ((0.6+0.2+0.1), (0.3+0.5+0.1), (0.1+0.3+0.8)) / 3 = (0.3, 0.3, 0.4)
    # voxel 1: axial has no opinion -> mean of coronal and sagittal = (0.6, 1.0, 0.4) / 2 = (0.3, 0.5, 0.2)
    # voxel 2: nobody -> all zero
    np.testing.assert_allclose(fused[:, 0, 0], [[0.3, 0.3, 0.4], [0.3, 0.5, 0.2], [0, 0, 0]], atol=1e-6)


def test_weighted_2_1_1(three):
    fused = fuse(three, "weighted", weights={"axial": 2, "coronal": 1, "sagittal": 1})
    # voxel 0: (2*(0.6, 0.3, 0.1) + (0.2, 0.5, 0.3) + (0.1, 0.1, 0.8)) / 4 = (1.5, 1.2, 1.3) / 4
    # voxel 1: only coronal and sagittal (weights 1, 1) -> (0.3, 0.5, 0.2)
    np.testing.assert_allclose(fused[:, 0, 0], [[0.375, 0.3, 0.325], [0.3, 0.5, 0.2], [0, 0, 0]], atol=1e-6)


def test_weighted_defaults_and_partial_weights(three):
    np.testing.assert_allclose(fuse(three, "weighted"), fuse(three, "mean"), atol=1e-6)
    # axes not named keep weight 1
    explicit = fuse(three, "weighted", weights={"axial": 2, "coronal": 1, "sagittal": 1})
    np.testing.assert_allclose(fuse(three, "weighted", weights={"axial": 2}), explicit)
    with pytest.raises(InputError):
        build_fusion("weighted", weights={"axial": -1})


def test_vote_two_against_one():
    probs = {
        "axial": volume([0.2, 0.7, 0.1]),  # votes 1
        "coronal": volume([0.1, 0.3, 0.6]),  # votes 2
        "sagittal": volume([0.3, 0.2, 0.5]),  # votes 2
    }
    fused = fuse(probs, "vote")
    # V = (0, 1, 2), n = 3, mean P = (0.6, 1.2, 1.2) / 3 = (0.2, 0.4, 0.4), tie_weight e = 0.1:
    # P = (V + e * mean) / (n + e) = (0.02, 1.04, 2.04) / 3.1
    np.testing.assert_allclose(fused[0, 0, 0], np.array([0.02, 1.04, 2.04]) / 3.1, atol=1e-6)
    assert fused[0, 0, 0].argmax() == 2


def test_vote_three_way_tie_broken_by_mean_probability():
    probs = {
        "axial": volume([0.1, 0.4, 0.35, 0.15]),  # votes 1
        "coronal": volume([0.1, 0.1, 0.7, 0.1]),  # votes 2
        "sagittal": volume([0.1, 0.2, 0.25, 0.45]),  # votes 3
    }
    fused = fuse(probs, "vote")
    # V = (0, 1, 1, 1); mean P = (0.3, 0.7, 1.3, 0.7) / 3; e = 0.1:
    # P = (V + 0.1 * mean) / 3.1 = (0.01, 1.02333, 1.04333, 1.02333) / 3.1 -> class 2 wins the tie
    expected = (np.array([0, 1, 1, 1]) + 0.1 * np.array([0.3, 0.7, 1.3, 0.7]) / 3) / 3.1
    np.testing.assert_allclose(fused[0, 0, 0], expected, atol=1e-6)
    assert fused[0, 0, 0].argmax() == 2


def test_vote_skips_models_without_opinion():
    probs = {"axial": volume(NONE3), "coronal": volume([0.1, 0.6, 0.3]), "sagittal": volume([0.2, 0.5, 0.3])}
    # V = (0, 2, 0), n = 2, mean P = (0.15, 0.55, 0.3); P = (0.015, 2.055, 0.03) / 2.1
    np.testing.assert_allclose(fuse(probs, "vote")[0, 0, 0], np.array([0.015, 2.055, 0.03]) / 2.1, atol=1e-6)


AX = [0.2, 0.7, 0.025, 0.025, 0.025, 0.025]  # axial: "bone (0.8), and it looks like L1"
COR = [0.4, 0.1, 0.1, 0.3, 0.1, 0.0]  # coronal: L3 is the most likely vertebra
SAG = [0.6, 0.0, 0.1, 0.2, 0.1, 0.0]  # sagittal: L3 is the most likely vertebra
NONE6 = [0.0] * 6


def test_axial_foreground_takes_bone_from_axial_and_identity_from_the_others():
    probs = {"axial": volume(AX, NONE6), "coronal": volume(COR, COR), "sagittal": volume(SAG, SAG)}
    fused = fuse(probs, "axial_foreground")
    # voxel 0: P(fg) = 1 - 0.2 = 0.8; coronal/sagittal mean over L1..L5 = (0.05, 0.1, 0.25, 0.1, 0), sum 0.5
    #   -> q = (0.1, 0.2, 0.5, 0.2, 0); P = (0.2, 0.8 * q) = (0.2, 0.08, 0.16, 0.4, 0.16, 0)  -> L3
    # voxel 1: axial has no opinion -> P(fg) = 1 - mean(0.4, 0.6) = 0.5; P = (0.5, 0.05, 0.1, 0.25, 0.1, 0)
    np.testing.assert_allclose(
        fused[:, 0, 0], [[0.2, 0.08, 0.16, 0.4, 0.16, 0.0], [0.5, 0.05, 0.1, 0.25, 0.1, 0.0]], atol=1e-6
    )
    assert fused[0, 0, 0].argmax() == 3
    assert fuse(probs, "mean")[0, 0, 0].argmax() == 0  # the plain mean calls it background: (0.4, ...)


def test_axial_foreground_with_the_axial_model_alone_reproduces_it():
    # no identity model: q falls back to the axial model's own L1..L5 split, (0.7, 0.025 x 4) / 0.8
    fused = fuse({"axial": volume(AX)}, "axial_foreground")
    np.testing.assert_allclose(fused[0, 0, 0], AX, atol=1e-6)


def test_axial_foreground_other_roles():
    probs = {"axial": volume(AX), "coronal": volume(COR), "sagittal": volume(SAG)}
    fused = fuse(probs, "axial_foreground", foreground_from="coronal", identity_from=("sagittal",))
    # P(fg) = 1 - 0.4 = 0.6; q = sagittal's (0, 0.1, 0.2, 0.1, 0) / 0.4 = (0, 0.25, 0.5, 0.25, 0)
    np.testing.assert_allclose(fused[0, 0, 0], [0.4, 0.0, 0.15, 0.3, 0.15, 0.0], atol=1e-6)


def test_geometric():
    probs = {
        "axial": volume([0.64, 0.32, 0.04], NONE3),
        "coronal": volume([0.25, 0.5, 0.25], [0.25, 0.5, 0.25]),
    }
    fused = fuse(probs, "geometric")
    # voxel 0: sqrt of the products (0.16, 0.16, 0.01) = (0.4, 0.4, 0.1), sum 0.9 -> (4/9, 4/9, 1/9)
    # voxel 1: only coronal has an opinion -> itself
    np.testing.assert_allclose(fused[:, 0, 0], [[4 / 9, 4 / 9, 1 / 9], [0.25, 0.5, 0.25]], atol=1e-6)


@pytest.mark.parametrize("name", sorted(FUSIONS))
def test_every_strategy_is_a_distribution_where_anyone_has_an_opinion(name, three):
    fused = fuse(three, name)
    assert fused.dtype == np.float32 and fused.shape == (3, 1, 1, 3)
    np.testing.assert_allclose(fused[:2].sum(axis=-1), 1, atol=1e-6)
    assert np.all(fused >= 0)
    np.testing.assert_array_equal(fused[2], 0)  # nobody had an opinion


@pytest.mark.parametrize("name", sorted(FUSIONS))
def test_every_strategy_works_with_a_missing_model(name, three):
    del three["sagittal"]
    fused = fuse(three, name)
    np.testing.assert_allclose(fused[:2].sum(axis=-1), 1, atol=1e-6)
    # voxel 1: axial has no opinion, so every strategy returns coronal's vector... except vote, which is
    # (V + e * P) / (1 + e) with V the one-hot of coronal's argmax
    coronal = np.array([0.2, 0.6, 0.2])
    expected = (np.array([0, 1, 0]) + 0.1 * coronal) / 1.1 if name == "vote" else coronal
    np.testing.assert_allclose(fused[1, 0, 0], expected, atol=1e-6)


@pytest.mark.parametrize("name", sorted(FUSIONS))
def test_every_strategy_rejects_shape_mismatch_and_empty_input(name, three):
    three["sagittal"] = np.zeros((2, 1, 1, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="differ in shape"):
        fuse(three, name)
    with pytest.raises(ValueError):
        fuse({}, name)


def test_unknown_name_lists_the_known_ones(three):
    with pytest.raises(InputError, match="known fusions: axial_foreground, geometric, mean, vote, weighted"):
        fuse(three, "median")


def test_default_is_registered():
    assert DEFAULT_FUSION in FUSIONS


def test_float16_input_gives_float32_distribution(three):
    half = {name: p.astype(np.float16) for name, p in three.items()}
    for name in FUSIONS:
        fused = fuse(half, name)
        assert fused.dtype == np.float32
        np.testing.assert_allclose(fused[:2].sum(axis=-1), 1, atol=1e-6)
