import numpy as np
import pytest

from pointseg.labels import get_label_set
from pointseg.metrics.dice import confusion_matrix, dice_from_confusion, dice_scores
from pointseg.metrics.summary import scores_as_dict


def test_dice_and_dice_wi_by_hand():
    # gt: 6 background, 3 of class 1, 1 of class 2; pred below
    gt = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 2])
    pred = np.array([0, 0, 0, 0, 0, 1, 1, 1, 0, 0])
    result = dice_scores(pred, gt, num_classes=3)
    # background: TP 5, |gt| 6, |pred| 7 -> 10/13 ; class 1: TP 2, |gt| 3, |pred| 3 -> 4/6 ; class 2: 0
    assert result.dice[0] == pytest.approx(10 / 13)
    assert result.dice[1] == pytest.approx(4 / 6)
    assert result.dice[2] == pytest.approx(0.0)
    # weights 1/6, 1/3, 1/1: (10/13/6 + 4/6/3 + 0) / (1/6 + 1/3 + 1) = (0.128205 + 0.222222) / 1.5
    assert result.dice_wi == pytest.approx((10 / 78 + 4 / 18) / 1.5)
    assert result.dice_wi == pytest.approx(0.2336182336)


def test_classes_absent_from_ground_truth_do_not_count_in_dice_wi():
    gt = np.array([0, 0, 1, 1])
    pred = np.array([0, 2, 1, 1])  # class 2 predicted but not in gt; class 3 in neither
    result = dice_scores(pred, gt, num_classes=4)
    # background 2*1/(2+1) = 2/3 (weight 1/2), class 1: 1 (weight 1/2)
    assert result.dice_wi == pytest.approx((2 / 3 * 0.5 + 1 * 0.5) / 1.0)
    assert result.dice[2] == 0.0
    assert np.isnan(result.dice[3])
    as_dict = scores_as_dict(result, get_label_set())
    assert set(as_dict["dice"]) == {"background", "L1", "L2"}
    assert as_dict["dice"]["L2"] == 0.0


def test_perfect_prediction_and_confusion_layout():
    gt = np.array([[0, 1], [2, 2]])
    assert dice_scores(gt, gt, 3).dice_wi == pytest.approx(1.0)
    c = confusion_matrix(np.array([1, 1, 2]), np.array([0, 1, 2]), 3)
    assert c[0, 1] == 1 and c[1, 1] == 1 and c[2, 2] == 1 and c.sum() == 3
    assert dice_from_confusion(c).gt_voxels.tolist() == [1, 1, 1]


def test_shape_and_range_errors():
    with pytest.raises(ValueError, match="shape"):
        dice_scores(np.zeros(3), np.zeros(4), 2)
    with pytest.raises(ValueError, match="label ids"):
        dice_scores(np.array([5]), np.array([0]), 2)


def test_dice_per_group_by_hand():
    from pointseg.labels import get_label_set

    bones = get_label_set("bones")
    t7, t8, rib = bones.id_of("vertebrae_T7"), bones.id_of("vertebrae_T8"), bones.id_of("rib_left_1")
    gt = np.array([t7, t7, t8, t8, rib, rib, 0, 0])
    pred = np.array([t7, t7, t8, 0, rib, 0, 0, rib])
    # T7 1.0, T8 2*1/(1+2) = 2/3, rib 2*1/(2+2) = 0.5
    groups = scores_as_dict(dice_scores(pred, gt, bones.num_classes), bones)["groups"]
    assert groups == {"vertebrae": pytest.approx((1 + 2 / 3) / 2), "ribs": pytest.approx(0.5)}
