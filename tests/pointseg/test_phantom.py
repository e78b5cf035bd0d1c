import json

import numpy as np
import pytest
from scipy import ndimage

from pointseg.cli import main
from pointseg.phantom import PhantomConfig, make_phantom
from pointseg.volume import read_volume

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
