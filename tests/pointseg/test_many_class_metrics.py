"""The many-class metrics of seed 001 (section 3.2): median DSC of the detected classes with its distances to
the 16th/84th percentiles, detection ratio dr (eq. 2) and foreground DSC fg (eq. 3), all worked out by hand."""

import json

import numpy as np
import pytest

from pointseg.cli import main
from pointseg.labels import get_label_set
from pointseg.metrics.many_class import foreground_dice, foreground_ids, many_class_metrics, summarise_dsc
from pointseg.metrics.dice import DiceResult, dice_scores
from pointseg.metrics.summary import scores_as_dict
from pointseg.io.volume import Volume, write_nifti

approx = pytest.approx

# lumbar6: 0 background, 1 L1 ... 6 L6, every foreground class a vertebra (bone).
#            idx: 0  1  2  3  4  5  6  7  8  9 10 11 12 13
CASE_A_GT = [0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 0]
CASE_A_PRED = [0, 0, 1, 1, 1, 1, 2, 3, 3, 3, 0, 0, 5, 6]
# background: gt {0,1,2,13}, pred {0,1,10,11}, both {0,1} -> 2*2/(4+4) = 0.5
# L1: gt {3,4,5}, pred {2,3,4,5}       -> 2*3/(3+4) = 6/7
# L2: gt {6,7},   pred {6}             -> 2*1/(2+1) = 2/3
# L3: gt {8,9},   pred {7,8,9}         -> 2*2/(2+3) = 4/5
# L4: gt {10,11}, pred none            -> 0 (missed entirely: out of the median, counted in dr)
# L5: gt {12},    pred {12}            -> 1
# L6: gt none,    pred {13}            -> 0 but not a ground-truth class: not counted anywhere
# ground-truth classes L1..L5 = 5, detected 4 -> dr 0.8
# detected sorted [2/3, 4/5, 6/7, 1], n = 4, linear interpolation at position 3q:
#   median (pos 1.5) = (4/5 + 6/7)/2 = 29/35
#   p16 (pos 0.48) = 2/3 + 0.48 (4/5 - 2/3) = 2/3 + 0.064        -> lower = 29/35 - 2/3 - 0.064 = 17/105 - 0.064
#   p84 (pos 2.52) = 6/7 + 0.52 (1 - 6/7) = 6.52/7              -> upper = 6.52/7 - 5.8/7 = 0.72/7
# fg (all classes bone): gt fg {3..12} = 10, pred fg {2..9,12,13} = 10, both {3..9,12} = 8 -> 16/20 = 0.8
CASE_A = {"median": 29 / 35, "lower": 17 / 105 - 0.064, "upper": 0.72 / 7, "detected": 4, "classes": 5,
          "detection_ratio": 0.8, "fg": 0.8}

# case B: gt [0,1,1,4], pred [0,1,4,4]
# L1: gt {1,2}, pred {1} -> 2/3 ; L4: gt {3}, pred {2,3} -> 2/3 ; fg: gt {1,2,3}, pred {1,2,3} -> 1.0
CASE_B_GT, CASE_B_PRED = [0, 1, 1, 4], [0, 1, 4, 4]


def _lumbar6(pred, gt) -> DiceResult:
    return dice_scores(np.array(pred), np.array(gt), 7)


def test_summarise_dsc_percentiles_by_hand():
    # [0.2, 0.4, 0.6, 0.8]: positions 3q -> p16 at 0.48: 0.2 + 0.48*0.2 = 0.296, median at 1.5: 0.5,
    # p84 at 2.52: 0.6 + 0.52*0.2 = 0.704 -> lower 0.204, upper 0.204
    s = summarise_dsc([0.2, 0.4, 0.6, 0.8])
    assert s == {"median": approx(0.5), "lower": approx(0.204), "upper": approx(0.204), "detected": 4,
                 "classes": 4, "detection_ratio": 1.0}
    # a missed class (0) is left out of the percentiles but counted in dr: 4/5; NaN (no class) is ignored
    s = summarise_dsc([0.0, 0.8, 0.6, float("nan"), 0.4, 0.2])
    assert (s["median"], s["lower"], s["upper"]) == (approx(0.5), approx(0.204), approx(0.204))
    assert (s["detected"], s["classes"], s["detection_ratio"]) == (4, 5, approx(0.8))
    # asymmetric, n = 3, positions 2q: p16 at 0.32: 0.5 + 0.32*0.4 = 0.628, median 0.9,
    # p84 at 1.68: 0.9 + 0.68*0.1 = 0.968 -> lower 0.272, upper 0.068
    s = summarise_dsc([1.0, 0.5, 0.9])
    assert (s["median"], s["lower"], s["upper"]) == (approx(0.9), approx(0.272), approx(0.068))
    # one value: no spread
    assert summarise_dsc([0.7])["lower"] == 0.0 and summarise_dsc([0.7])["upper"] == 0.0


def test_summarise_dsc_undefined_is_none():
    assert summarise_dsc([]) == {"median": None, "lower": None, "upper": None, "detected": 0, "classes": 0,
                                 "detection_ratio": None}
    assert summarise_dsc([0.0, 0.0]) == {"median": None, "lower": None, "upper": None, "detected": 0,
                                         "classes": 2, "detection_ratio": 0.0}


def test_one_case_missed_class_and_predicted_class_absent_from_gt():
    result = _lumbar6(CASE_A_PRED, CASE_A_GT)
    assert result.dice[1:6].tolist() == approx([6 / 7, 2 / 3, 4 / 5, 0.0, 1.0])
    assert result.dice[6] == 0.0 and result.gt_voxels[6] == 0  # L6: predicted only
    metrics = many_class_metrics([result], get_label_set("lumbar6"))
    assert metrics["all"] == approx(CASE_A)
    assert metrics["groups"] == {"vertebrae": approx(CASE_A)}  # lumbar6's only group: every class
    assert 29 / 35 == approx(0.828571, abs=1e-6) and 17 / 105 - 0.064 == approx(0.097905, abs=1e-6)


def test_fg_equals_the_background_complement_when_all_classes_are_bone():
    gt, pred = np.array(CASE_A_GT), np.array(CASE_A_PRED)
    # eq. 3 from the background alone: |not P_bg and not G_bg| = 14 - 4 - 4 + 2 = 8, |not P_bg| = |not G_bg| = 10
    not_p, not_g = pred != 0, gt != 0
    from_background = 2 * np.sum(not_p & not_g) / (not_p.sum() + not_g.sum())
    assert from_background == approx(0.8)
    lumbar6 = get_label_set("lumbar6")
    assert foreground_ids(lumbar6) == (1, 2, 3, 4, 5, 6)
    assert many_class_metrics([_lumbar6(pred, gt)], lumbar6)["all"]["fg"] == approx(from_background)
    rng = np.random.default_rng(0)  # and on random label maps
    for _ in range(5):
        gt, pred = rng.integers(0, 7, 200), rng.integers(0, 7, 200)
        not_p, not_g = pred != 0, gt != 0
        expected = 2 * np.sum(not_p & not_g) / (not_p.sum() + not_g.sum())
        assert many_class_metrics([_lumbar6(pred, gt)], lumbar6)["all"]["fg"] == approx(expected)


def test_pooling_over_two_cases():
    lumbar6 = get_label_set("lumbar6")
    a, b = _lumbar6(CASE_A_PRED, CASE_A_GT), _lumbar6(CASE_B_PRED, CASE_B_GT)
    # values: case A [6/7, 2/3, 4/5, 0, 1] + case B [2/3, 2/3] -> 7 classes, 6 detected, dr 6/7
    # detected sorted [2/3, 2/3, 2/3, 4/5, 6/7, 1], n = 6, positions 5q:
    #   median (pos 2.5) = (2/3 + 4/5)/2 = 11/15 ; p16 (pos 0.8) = 2/3 -> lower 1/15
    #   p84 (pos 4.2) = 6/7 + 0.2/7 = 6.2/7 = 93/105 -> upper 93/105 - 77/105 = 16/105
    # fg pooled: (2*8 + 2*3) / (20 + 6) = 22/26 = 11/13 (not the mean of per-case 0.8 and 1.0, 0.9)
    expected = {"median": 11 / 15, "lower": 1 / 15, "upper": 16 / 105, "detected": 6, "classes": 7,
                "detection_ratio": 6 / 7, "fg": 11 / 13}
    assert many_class_metrics([a, b], lumbar6)["all"] == approx(expected)
    assert many_class_metrics({"a": a, "b": b}, lumbar6) == many_class_metrics([a, b], lumbar6)
    assert many_class_metrics([b], lumbar6)["all"]["fg"] == 1.0


def test_evaluation_summary_pools_over_its_cases():
    from pointseg.report.collect import _summarise

    lumbar6 = get_label_set("lumbar6")
    a, b = _lumbar6(CASE_A_PRED, CASE_A_GT), _lumbar6(CASE_B_PRED, CASE_B_GT)
    summary = _summarise({"a": a, "b": b}, lumbar6, "test")
    assert summary["many_class"] == many_class_metrics([a, b], lumbar6)  # 11/15, dr 6/7, fg 11/13 as above
    assert summary["many_class"]["all"]["fg"] == approx(11 / 13)
    assert summary["per_case"]["a"]["many_class"]["all"] == approx(CASE_A)


def _bones_case():
    bones = get_label_set("bones")
    t7, t8 = bones.id_of("vertebrae_T7"), bones.id_of("vertebrae_T8")
    r1, r2 = bones.id_of("rib_left_1"), bones.id_of("rib_left_2")
    fl, hl = bones.id_of("femur_left"), bones.id_of("humerus_left")
    #      idx: 0   1   2   3   4   5   6   7   8   9  10  11
    gt = [0, 0, t7, t7, t8, t8, r1, r1, r2, fl, fl, fl]
    pred = [hl, r1, t7, t7, t7, t8, r1, r2, r1, fl, fl, fl]
    return bones, np.array(gt, np.uint8), np.array(pred, np.uint8)


# T7: gt {2,3}, pred {2,3,4} -> 4/5 ; T8: gt {4,5}, pred {5} -> 2/3
# rib_left_1: gt {6,7}, pred {1,6,8} -> 2*1/5 = 2/5 ; rib_left_2: gt {8}, pred {7} -> 0 (missed)
# femur_left: gt = pred = {9,10,11} -> 1 ; humerus_left: predicted at 0, not in gt -> not counted
# vertebrae: [4/5, 2/3], n = 2, positions q: median 11/15, median - p16 = p84 - median = 0.34 * (2/15)
#   fg over T7+T8: gt {2..5}, pred {2..5} -> 1.0 (T8 taken for T7 is still vertebra)
# ribs: [2/5, 0]: 1 of 2 detected, median 0.4, no spread; fg: gt {6,7,8}, pred {1,6,7,8} -> 6/7
# large_bones: [1]; fg over every large bone: gt {9,10,11}, pred {0,9,10,11} -> 6/7
# all: [4/5, 2/3, 2/5, 0, 1]: 4 of 5, detected sorted [0.4, 2/3, 0.8, 1], positions 3q:
#   median (1.5) 11/15 ; p16 (0.48) = 0.4 + 0.48*(4/15) = 0.528 ; p84 (2.52) = 0.8 + 0.52*0.2 = 0.904
#   fg over every bone: gt {2..11} = 10, pred {0..11} = 12, both 10 -> 20/22 = 10/11
BONES_EXPECTED = {
    "all": {"median": 11 / 15, "lower": 11 / 15 - 0.528, "upper": 0.904 - 11 / 15, "detected": 4, "classes": 5,
            "detection_ratio": 0.8, "fg": 10 / 11},
    "groups": {
        "vertebrae": {"median": 11 / 15, "lower": 0.68 / 15, "upper": 0.68 / 15, "detected": 2, "classes": 2,
                      "detection_ratio": 1.0, "fg": 1.0},
        "ribs": {"median": 0.4, "lower": 0.0, "upper": 0.0, "detected": 1, "classes": 2, "detection_ratio": 0.5,
                 "fg": 6 / 7},
        "large_bones": {"median": 1.0, "lower": 0.0, "upper": 0.0, "detected": 1, "classes": 1,
                        "detection_ratio": 1.0, "fg": 6 / 7},
    },
}


def test_groups_of_the_bones_label_set():
    bones, gt, pred = _bones_case()
    result = dice_scores(pred, gt, bones.num_classes)
    metrics = many_class_metrics([result], bones)
    assert metrics["all"] == approx(BONES_EXPECTED["all"])
    assert list(metrics["groups"]) == ["vertebrae", "ribs", "large_bones"]
    for group, expected in BONES_EXPECTED["groups"].items():
        assert metrics["groups"][group] == approx(expected), group
    # every class of "bones" is bone: fg again equals eq. 3 from the background (|not G_bg| 10, |not P_bg| 12)
    assert metrics["all"]["fg"] == approx(2 * 10 / (10 + 12))
    assert scores_as_dict(result, bones)["many_class"] == metrics


def test_foreground_is_bone_when_the_set_has_bones_else_every_class():
    organs, upper = get_label_set("organs"), get_label_set("upper_body")
    assert foreground_ids(organs) == organs.ids[1:]
    assert foreground_ids(upper) == get_label_set("upper_body").bone_ids()
    liver, t7 = upper.id_of("liver"), upper.id_of("vertebrae_T7")
    gt = np.array([0, liver, liver, t7])
    pred = np.array([liver, liver, t7, t7])
    metrics = many_class_metrics([dice_scores(pred, gt, upper.num_classes)], upper)
    # "all" fg over bone only: gt {3}, pred {2,3}, both {3} -> 2/3 (every non-background class would give 6/7)
    assert metrics["all"]["fg"] == approx(2 / 3)
    # organs fg: gt {1,2}, pred {0,1}, both {1} -> 2/4
    assert metrics["groups"]["organs"]["fg"] == approx(0.5)
    assert foreground_dice(dice_scores(pred, gt, upper.num_classes).confusion, upper.ids[1:]) == approx(6 / 7)
    # a group none of whose classes is in the ground truth or the prediction: all undefined
    assert metrics["groups"]["ribs"] == {"median": None, "lower": None, "upper": None, "detected": 0,
                                         "classes": 0, "detection_ratio": None, "fg": None}


def test_json_safe_and_no_confusion_means_no_fg():
    lumbar = get_label_set("lumbar")
    empty = dice_scores(np.zeros(4, np.uint8), np.zeros(4, np.uint8), lumbar.num_classes)
    json.dumps(scores_as_dict(empty, lumbar)["many_class"], allow_nan=False)  # no NaN anywhere
    assert scores_as_dict(empty, lumbar)["many_class"]["all"]["median"] is None
    bare = DiceResult(empty.dice, empty.gt_voxels, empty.pred_voxels, empty.dice_wi)  # built without confusion
    assert bare.confusion is None and many_class_metrics([bare], lumbar)["all"]["fg"] is None


def test_evaluate_json_and_table_have_the_many_class_metrics(tmp_path, capsys):
    bones, gt, pred = _bones_case()
    write_nifti(Volume(gt.reshape(3, 4, 1), np.eye(4)), tmp_path / "gt.nii.gz")
    write_nifti(Volume(pred.reshape(3, 4, 1), np.eye(4)), tmp_path / "pred.nii.gz")
    args = ["evaluate", str(tmp_path / "pred.nii.gz"), str(tmp_path / "gt.nii.gz"), "--labels", "bones"]
    assert main(args + ["--json"]) == 0
    text = capsys.readouterr().out
    assert "NaN" not in text
    many = json.loads(text)["many_class"]
    assert many["all"] == approx(BONES_EXPECTED["all"])
    for group, expected in BONES_EXPECTED["groups"].items():
        assert many["groups"][group] == approx(expected), group
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    table = lines[lines.index("") + 1:]
    assert table[0].split() == ["group", "median", "DSC", "-p16", "+p84", "dr", "fg"]
    # vertebrae: 11/15 = 0.7333, 0.68/15 = 0.0453 ; ribs 0.4, dr 1/2, fg 6/7 = 0.8571 ; all fg 10/11 = 0.9091
    assert table[1].split() == ["vertebrae", "0.7333", "0.0453", "0.0453", "1.000", "(2/2)", "1.0000"]
    assert table[2].split() == ["ribs", "0.4000", "0.0000", "0.0000", "0.500", "(1/2)", "0.8571"]
    assert table[3].split() == ["large_bones", "1.0000", "0.0000", "0.0000", "1.000", "(1/1)", "0.8571"]
    assert table[4].split() == ["all", "0.7333", "0.2053", "0.1707", "0.800", "(4/5)", "0.9091"]
    assert len(table) == 5
