"""Label sets: names, groups, extents, colours, and reading labels stored in another set."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pointseg.io.dataset import Case, check_case, write_labels
from pointseg.errors import InputError
from pointseg.labels import LABEL_SETS, get_label_set, remap_labels, remap_table
from pointseg.io.volume import Volume, write_nifti


def test_upper_body_sets_have_the_structures_they_promise():
    bones, ribs, spine, organs = (get_label_set(n) for n in ("bones", "ribs", "spine", "organs"))
    assert len(bones.foreground) >= 60 and bones.names[0] == "background"
    assert ribs.foreground == tuple(f"rib_{s}_{n}" for s in ("left", "right") for n in range(1, 13))
    assert spine.foreground[0] == "vertebrae_C1" and spine.foreground[-1] == "vertebrae_L5" and len(spine.foreground) == 24
    assert {"lung_left", "heart", "liver", "spleen", "kidney_right", "urinary_bladder"} <= set(organs.names)
    assert set(spine.names) | set(ribs.names) <= set(bones.names)
    assert {g: len(n) for g, n in bones.groups().items()} == {"vertebrae": 24, "ribs": 24, "large_bones": 13}
    assert bones.group_of("femur_left") == "large_bones" and organs.group_of("liver") == "organs"


def test_colours_are_stable_per_name_and_keep_the_lumbar_ones():
    assert get_label_set("lumbar").color_of("L1") == (230, 25, 75)
    bones, ribs = get_label_set("bones"), get_label_set("ribs")
    assert bones.color_of("rib_left_7") == ribs.color_of("rib_left_7")
    colours = {bones.color_of(n) for n in bones.names}
    assert len(colours) == bones.num_classes  # 62 different colours
    assert all(0 <= c <= 255 for colour in colours for c in colour)


def test_remapping_goes_by_name():
    upper, ribs, lumbar = get_label_set("upper_body"), get_label_set("ribs"), get_label_set("lumbar")
    table = remap_table(upper, ribs)
    assert table[upper.id_of("rib_right_12")] == ribs.id_of("rib_right_12")
    assert table[upper.id_of("vertebrae_T7")] == 0 and table[upper.id_of("liver")] == 0
    labels = np.array([upper.id_of("vertebrae_L3"), upper.id_of("vertebrae_T12"), 0, upper.id_of("rib_left_1")])
    assert remap_labels(labels, upper, lumbar).tolist() == [3, 0, 0, 0]  # vertebrae_L3 is L3
    with pytest.raises(InputError, match="outside label set 'lumbar'"):
        remap_labels(np.array([9]), lumbar, upper)


def test_a_case_reads_its_labels_in_the_set_it_is_asked_for(tmp_path):
    upper, ribs = get_label_set("upper_body"), get_label_set("ribs")
    array = np.zeros((6, 5, 4), np.uint8)
    array[1, 1, 1] = upper.id_of("rib_left_2")
    array[2, 2, 2] = upper.id_of("heart")
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    write_nifti(Volume(np.zeros(array.shape, np.int16), affine), tmp_path / "c" / "ct.nii.gz", dtype=np.int16)
    write_labels(tmp_path / "c", Volume(array, affine), upper)
    assert json.loads((tmp_path / "c" / "labels.json").read_text(encoding="utf-8")) == {"label_set": "upper_body"}
    case = Case("c", tmp_path / "c", tmp_path / "c" / "ct.nii.gz")
    assert case.labels_label_set == upper
    as_ribs = case.load_labels(ribs).array
    assert as_ribs[1, 1, 1] == ribs.id_of("rib_left_2") and as_ribs.sum() == ribs.id_of("rib_left_2")
    assert np.array_equal(case.load_labels().array, array)  # no set asked: as stored
    assert check_case(case, ribs) == []  # ids are checked against the stored set, not the command's
    (tmp_path / "c" / "labels.json").write_text('{"label_set": "nope"}')
    assert "labels.json" in check_case(case, ribs)[0] and "nope" in check_case(case, ribs)[0]


def test_every_set_starts_with_background_and_knows_each_structure():
    for label_set in LABEL_SETS.values():
        assert label_set.names[0] == "background"
        assert len(label_set.extent_radii()) == label_set.num_classes
        assert all(r > 0 for r in label_set.extent_radii()[1:])
