import json

import numpy as np
import pytest

from pointseg.cli import main
from pointseg.io.dataset import discover_cases
from pointseg.labels import get_label_set, remap_labels
from pointseg.phantom import UpperBodyConfig, UpperBodyParams, make_upper_body
from pointseg.io.volume import read_volume
from pointseg.io.grid import reorient

FULL = UpperBodyConfig(spacing=(4.0, 4.0, 4.0), fov_cut_prob=0.0, rib_variant_prob=0.0)
UPPER = get_label_set("upper_body")


@pytest.fixture(scope="module")
def phantom():
    return make_upper_body(3, FULL)


def _ids(*names):
    return [UPPER.id_of(n) for n in names]


def _centroid_world(labels, affine, label):
    idx = np.argwhere(labels == label)
    return (affine @ np.c_[idx, np.ones(len(idx))].T)[:3].mean(axis=1)


def test_same_seed_same_case_other_seed_other_case(phantom):
    again, other = make_upper_body(3, FULL), make_upper_body(4, FULL)
    assert np.array_equal(phantom.ct, again.ct) and np.array_equal(phantom.labels, again.labels)
    assert phantom.params == again.params and np.array_equal(phantom.affine, again.affine)
    assert not np.array_equal(phantom.ct, other.ct)
    json.dumps(phantom.params)  # the drawn parameters are kept, as JSON
    assert phantom.case_params == UpperBodyParams.sample(np.random.default_rng(3), FULL)


def test_every_bone_and_organ_is_present_in_a_full_field_of_view(phantom):
    bones = get_label_set("bones")
    present = set(np.unique(remap_labels(phantom.labels, UPPER, bones))) - {0}
    assert len(present) >= 60 and present == set(range(1, bones.num_classes)), "all 61 bones"
    organs = get_label_set("organs")
    assert set(np.unique(remap_labels(phantom.labels, UPPER, organs))) == set(range(organs.num_classes))
    assert phantom.ct.dtype == np.int16 and phantom.labels.dtype == np.uint8


def test_bone_is_bright_lungs_are_dark_soft_tissue_in_between(phantom):
    ct, labels = phantom.ct.astype(np.float32), phantom.labels
    bone_ids = _ids(*get_label_set("bones").foreground)
    bone_ids.remove(UPPER.id_of("costal_cartilages"))
    assert ct[np.isin(labels, bone_ids)].mean() > 150
    assert ct[np.isin(labels, _ids("lung_left", "lung_right"))].mean() < -500
    assert 50 < ct[labels == UPPER.id_of("costal_cartilages")].mean() < 300
    for organ in ("heart", "liver", "spleen", "kidney_left", "kidney_right"):
        assert -20 < ct[labels == UPPER.id_of(organ)].mean() < 200, organ
    assert ((ct > -150) & (ct < -60)).mean() > 0.02, "fat"
    assert (ct < -900).mean() > 0.1, "air around the body"


def test_ribs_lie_on_the_side_of_their_name(phantom):
    """World RAS: +x is the patient's right."""
    for n in range(1, 13):
        spine_x = _centroid_world(phantom.labels, phantom.affine, UPPER.id_of(f"vertebrae_T{n}"))[0]
        right = _centroid_world(phantom.labels, phantom.affine, UPPER.id_of(f"rib_right_{n}"))[0]
        left = _centroid_world(phantom.labels, phantom.affine, UPPER.id_of(f"rib_left_{n}"))[0]
        assert right > spine_x + 20 and left < spine_x - 20, n
    liver = _centroid_world(phantom.labels, phantom.affine, UPPER.id_of("liver"))[0]
    spleen = _centroid_world(phantom.labels, phantom.affine, UPPER.id_of("spleen"))[0]
    assert liver > spleen


def test_vertebrae_stack_from_c1_down_to_l5(phantom):
    z = [_centroid_world(phantom.labels, phantom.affine, UPPER.id_of(n))[2] for n in get_label_set("spine").foreground]
    assert all(np.diff(z) < 0), "C1 is superior to C2 ... to L5"
    hip = _centroid_world(phantom.labels, phantom.affine, UPPER.id_of("femur_right"))[2]
    assert hip < _centroid_world(phantom.labels, phantom.affine, UPPER.id_of("sacrum"))[2]


def test_field_of_view_cuts_leave_out_the_cut_structures():
    cut = UpperBodyConfig(spacing=(4.0, 4.0, 4.0), fov_cut_prob=1.0, rib_variant_prob=0.0)
    seen = set()
    for seed in range(12):
        p = UpperBodyParams.sample(np.random.default_rng(seed), cut)
        ends = ("top" if p.fov_cut.top_mm is not None else "") + ("bottom" if p.fov_cut.bottom_mm is not None else "")
        if ends in seen:
            continue
        seen.add(ends)
        present = set(np.unique(make_upper_body(seed, cut).labels))
        if p.fov_cut.top_mm is not None:
            assert not present & set(_ids("rib_left_1", "rib_right_1", "vertebrae_C1", "vertebrae_C7"))
        if p.fov_cut.bottom_mm is not None:
            assert not present & set(_ids("femur_left", "femur_right"))
        assert UPPER.id_of("vertebrae_L1") in present
    assert {"top", "bottom"} <= seen


def test_eleven_and_thirteen_rib_pairs():
    variant = UpperBodyConfig(spacing=(4.0, 4.0, 4.0), fov_cut_prob=0.0, rib_variant_prob=1.0)
    pairs = {}
    for seed in range(8):
        n = UpperBodyParams.sample(np.random.default_rng(seed), variant).rib_pairs
        pairs.setdefault(n, seed)
    assert set(pairs) == {11, 13}
    eleven, thirteen = make_upper_body(pairs[11], variant), make_upper_body(pairs[13], variant)
    assert not set(np.unique(eleven.labels)) & set(_ids("rib_left_12", "rib_right_12"))
    ribs = get_label_set("ribs")
    assert set(np.unique(remap_labels(thirteen.labels, UPPER, ribs))) == set(range(25)), "24 ribs + background"
    l1 = np.argwhere(thirteen.labels == UPPER.id_of("vertebrae_L1"))
    beside = thirteen.ct[:, :, l1[:, 2].min():l1[:, 2].max() + 1] > 400
    beside &= thirteen.labels[:, :, l1[:, 2].min():l1[:, 2].max() + 1] == 0
    assert beside.sum() > 4, "the extra lumbar rib is bone without a label"


def test_cli_writes_labels_in_the_upper_body_set_and_any_orientation(tmp_path):
    ras, lps, pir = tmp_path / "ras", tmp_path / "lps", tmp_path / "pir"
    common = ["--anatomy", "upper-body", "--seed", "2", "--spacing", "4", "--quiet"]
    assert main(["phantom", str(ras)] + common + ["--preview"]) == 0
    assert main(["phantom", str(lps), "--orientation", "LPS"] + common) == 0
    assert main(["phantom", str(pir), "--orientation", "PIR"] + common) == 0
    case = discover_cases(ras)[0]
    assert json.loads((case.dir / "labels.json").read_text(encoding="utf-8")) == {"label_set": "upper_body"}
    assert json.loads((case.dir / "phantom.json").read_text(encoding="utf-8"))["anatomy"] == "upper-body"
    assert (case.dir / "preview.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    p = json.loads((case.dir / "phantom.json").read_text(encoding="utf-8"))["params"]
    ribs = case.load_labels(get_label_set("ribs")).array
    assert (p["rib_pairs"] == 12) == (set(np.unique(ribs)) == set(range(25))), "24 ribs and background"
    reference = read_volume(case.dir / "labels.nii.gz")
    for folder, axcodes in ((lps, ("L", "P", "S")), (pir, ("P", "I", "R"))):
        other = discover_cases(folder)[0].load_labels(UPPER)
        assert other.axcodes == axcodes
        back, _ = reorient(other, "RAS")
        assert np.array_equal(back.array, reference.array) and np.allclose(back.affine, reference.affine)
        for name in ("rib_left_6", "rib_right_6", "liver"):
            a = _centroid_world(reference.array, reference.affine, UPPER.id_of(name))
            b = _centroid_world(other.array, other.affine, UPPER.id_of(name))
            assert np.allclose(a, b, atol=1e-6), name


def test_lumbar_stays_the_default_and_writes_no_label_set_file(tmp_path):
    assert main(["phantom", str(tmp_path / "d"), "--spacing", "4", "--quiet"]) == 0
    case = discover_cases(tmp_path / "d")[0]
    assert not (case.dir / "labels.json").exists()
    assert set(np.unique(case.load_labels().array)) == {0, 1, 2, 3, 4, 5}
    with pytest.raises(SystemExit):
        main(["phantom", str(tmp_path / "d"), "--anatomy", "thorax"])
