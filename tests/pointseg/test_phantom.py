import json

import numpy as np
import pytest
from scipy import ndimage

from pointseg.cli import main
from pointseg.phantom import PhantomConfig, make_phantom
from pointseg.io.volume import read_volume

COARSE = PhantomConfig(spacing=(3.0, 3.0, 3.0), fov_cut_prob=0.0)


@pytest.fixture(scope="module")
def phantom():
    return make_phantom(11, PhantomConfig(spacing=(2.0, 2.0, 2.0), fov_cut_prob=0.0))


def test_same_seed_same_case_other_seed_other_case():
    a, b, c = make_phantom(4, COARSE), make_phantom(4, COARSE), make_phantom(5, COARSE)
    assert np.array_equal(a.ct, b.ct) and np.array_equal(a.labels, b.labels) and a.params == b.params
    assert not np.array_equal(a.ct, c.ct)
    json.dumps(a.params)  # the drawn parameters are kept, as JSON


def test_all_five_lumbar_vertebrae_with_realistic_hu(phantom):
    ct, labels = phantom.ct.astype(np.float32), phantom.labels
    assert ct.dtype == np.float32 and phantom.ct.dtype == np.int16 and labels.dtype == np.uint8
    assert set(np.unique(labels)) == {0, 1, 2, 3, 4, 5}
    bone = labels > 0
    interior = ndimage.binary_erosion(bone, iterations=2)
    rim = bone & ~ndimage.binary_erosion(bone)
    assert 150 < np.median(ct[interior]) < 450, "cancellous bone"
    assert 450 < np.percentile(ct[rim], 90) < 1500, "cortical shell"
    assert ((ct > 10) & (ct < 80)).mean() > 0.1, "muscle and organs"
    assert (ct < -900).mean() > 0.02, "air outside the body"
    assert ((ct > -150) & (ct < -60)).mean() > 0.03, "fat"
    assert 10 < np.std(ct[(ct > -1100) & (ct < -900)]) < 40, "about 20 HU of noise"


def test_vertebrae_grow_caudally_and_stack_along_z(phantom):
    voxels = [np.sum(phantom.labels == n) for n in range(1, 6)]
    assert voxels[4] > voxels[0], voxels
    centres_z = [np.argwhere(phantom.labels == n)[:, 2].mean() for n in range(1, 6)]
    assert all(np.diff(centres_z) < 0), "L1 is superior (larger k in RAS) to L5"


def test_other_bone_is_present_but_unlabelled(phantom):
    unlabelled_bone = (phantom.ct > 400) & (phantom.labels == 0)
    top = np.argwhere(phantom.labels == 1)[:, 2].max()
    bottom = np.argwhere(phantom.labels == 5)[:, 2].min()
    assert unlabelled_bone[:, :, top + 3 :].sum() > 200, "T12 and ribs above L1"
    assert unlabelled_bone[:, :, : max(bottom - 3, 1)].sum() > 200, "sacrum and iliac bones below L5"


def test_anisotropic_spacing_keeps_the_field_of_view():
    iso = make_phantom(2, PhantomConfig(spacing=(2.0, 2.0, 2.0), fov_cut_prob=0.0))
    aniso = make_phantom(2, PhantomConfig(spacing=(2.0, 2.0, 4.0), fov_cut_prob=0.0))
    assert aniso.ct.shape[2] == pytest.approx(iso.ct.shape[2] / 2, abs=1)
    assert np.allclose(np.diag(aniso.affine)[:3], (2.0, 2.0, 4.0))
    assert set(np.unique(aniso.labels)) == {0, 1, 2, 3, 4, 5}


def test_field_of_view_cut_leaves_a_partial_vertebra():
    cut = [make_phantom(seed, PhantomConfig(spacing=(3.0, 3.0, 3.0), fov_cut_prob=1.0)) for seed in range(3)]
    full = [make_phantom(seed, PhantomConfig(spacing=(3.0, 3.0, 3.0), fov_cut_prob=0.0)) for seed in range(3)]
    assert all(c.ct.shape[2] < f.ct.shape[2] for c, f in zip(cut, full))


def test_cli_writes_cases_previews_and_orientation(tmp_path, capsys):
    out = tmp_path / "ph"
    args = ["phantom", str(out), "--cases", "2", "--seed", "1", "--spacing", "4", "--orientation", "LPS", "--preview", "--quiet"]
    assert main(args) == 0
    for name in ("phantom_000", "phantom_001"):
        ct, labels = read_volume(out / name / "ct.nii.gz"), read_volume(out / name / "labels.nii.gz")
        assert ct.axcodes == ("L", "P", "S") and labels.same_grid(ct)
        assert (out / name / "preview.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert json.loads((out / name / "phantom.json").read_text(encoding="utf-8"))["seed"] == 1
    assert main(args) == 2, "existing cases are not overwritten without --force"
    assert "already exists" in capsys.readouterr().err
    assert main(args + ["--force"]) == 0
    assert main(["phantom", str(out), "--spacing", "1", "2"]) == 2


def _sample(seed, config=PhantomConfig()):
    from pointseg.phantom import PhantomParams

    return PhantomParams.sample(np.random.default_rng(seed), config)


def test_params_same_seed_equal_other_seed_different_and_used_by_make_phantom():
    assert _sample(7) == _sample(7)
    assert _sample(7) != _sample(8)
    assert len({_sample(seed).scale for seed in range(5)}) == 5
    assert make_phantom(4, COARSE).case_params == _sample(4, COARSE)


def test_params_lie_in_the_documented_ranges():
    def within(values, centre, spread):
        return all(centre - spread <= v <= centre + spread for v in np.ravel(values))

    drawn = [_sample(seed, PhantomConfig(fov_cut_prob=0.5)) for seed in range(200)]
    for p in drawn:
        assert within(p.scale, 1.0, 0.10) and 0.3 <= p.lordosis <= 2.0 and abs(p.scoliosis_mm) <= 30.0
        assert within(p.global_rot_deg, 0.0, 5.0) and within(p.shift_mm, 0.0, 15.0)
        assert len(p.axial_rot_deg) == len(p.level_jitter) == len(p.disc_jitter) == 7, "T11 .. L5"
        assert within(p.level_jitter, 1.0, 0.04) and within(p.disc_jitter, 1.0, 0.12)
        assert within(p.pelvic_tilt_deg, 0.0, 6.0) and within(p.crest_mm, 0.0, 8.0)
        assert within(p.torso_semi_mm[0], 160.0, 10.0) and within(p.torso_semi_mm[1], 117.5, 7.5)
        f = p.fat_mm
        assert within(f.lateral, 20.0, 10.0) and within(f.anterior, 22.0, 12.0)
        assert within(f.posterior, 12.0, 8.0) and within(f.wall, 10.0, 2.5)
        assert within(p.muscle_hu, 50.0, 8.0)
        assert within(p.aorta_hu, 200.0, 50.0) if p.contrast else p.aorta_hu == 40.0
        b = p.bone
        assert within(b.cortical, 950.0, 200.0) and within(b.cancellous, 225.0, 70.0)
        assert within(b.t_cort, 1.75, 0.25) and b.texture == 30.0
        assert len(p.organ_jitter_mm) == 6 and within(p.organ_jitter_mm, 0.0, 8.0)
        assert 0 <= p.bowel_seed < 2**31 - 1
        assert p.fov_cut is None or (p.fov_cut.vertebra in ("L1", "L5") and within(p.fov_cut.fraction, 0.0, 0.35))
    assert 0.3 < np.mean([p.contrast for p in drawn]) < 0.5, "contrast in about 40% of cases"
    assert 0.4 < np.mean([p.fov_cut is not None for p in drawn]) < 0.6, "cut with fov_cut_prob"


def test_params_without_variation_are_the_mean_anatomy():
    p = _sample(3, PhantomConfig(variation=0.0, fov_cut_prob=0.0))
    assert (p.scale, p.lordosis, p.scoliosis_mm, p.muscle_hu, p.contrast, p.fov_cut) == (1.0, 1.0, 0.0, 50.0, False, None)
    assert set(p.axial_rot_deg) == {0.0} and set(np.ravel(p.level_jitter)) == {1.0}
