import nibabel as nib
import numpy as np
import pytest

from pointseg.metrics.cost import CostModel, anatomical_axis, case_cost, dataset_cost, measured_seconds_per_click, structure_slices
from pointseg.io.dataset import discover_cases
from pointseg.errors import InputError
from pointseg.labels import get_label_set
from pointseg.io.points import Points, write_points
from tests.conftest import write_case

LUMBAR = get_label_set()

# PIR: array axis 0 runs posterior, axis 1 inferior, axis 2 right -> the axial slices stack along axis 1.
PIR = np.array([[0.0, 0.0, 1.0, 10.0], [-1.0, 0.0, 0.0, 5.0], [0.0, -1.0, 0.0, 30.0], [0.0, 0.0, 0.0, 1.0]])


def _points(n, times=None, annotators=None):
    names = (["L1", "L2", "background"] * n)[:n]
    return Points(names, np.zeros((n, 3)), np.zeros((n, 3)), times, annotators)


def _axial_labels():
    """Class 1 on axial slices 2..5 (4 slices), class 2 on 4..9 (6 slices), axial = last axis (RAS)."""
    labels = np.zeros((8, 7, 12), dtype=np.uint8)
    labels[2:5, 1:3, 2:6] = 1
    labels[3:6, 2:6, 4:10] = 2  # slices 4 and 5 hold both classes: each is drawn there
    return labels


def test_structure_slices_by_hand():
    labels = _axial_labels()
    assert structure_slices(labels, LUMBAR, slice_axis=2) == {"L1": 4, "L2": 6}
    # along axis 0: class 1 on rows 2..4 (3), class 2 on rows 3..5 (3)
    assert structure_slices(labels, LUMBAR, slice_axis=0) == {"L1": 3, "L2": 3}


def test_case_cost_default_click_time_by_hand():
    result = case_cost(_points(12), _axial_labels(), LUMBAR, CostModel(), slice_axis=2)
    assert result["clicks"] == 12
    assert result["click_time_source"] == "default"
    assert result["seconds_per_click"] == 2.0
    assert result["click_seconds"] == pytest.approx(24.0)
    assert result["structure_slices"] == 10
    assert result["full_seconds"] == pytest.approx(125.0)
    assert result["cost_ratio"] == pytest.approx(0.192)


def test_measured_click_time_drops_breaks():
    # intervals 2, 3, 1, 94 (a break, dropped), 3 -> median of [1, 2, 3, 3] = 2.5
    points = _points(6, times=[0, 2, 5, 6, 100, 103])
    assert measured_seconds_per_click(points) == pytest.approx(2.5)
    # unsorted input and unknown (NaN) times are handled the same way
    shuffled = _points(8, times=[103, np.nan, 0, 6, 2, 100, 5, np.nan])
    assert measured_seconds_per_click(shuffled) == pytest.approx(2.5)
    result = case_cost(points, _axial_labels(), LUMBAR, CostModel(), slice_axis=2)
    assert result["click_time_source"] == "measured"
    assert result["click_seconds"] == pytest.approx(6 * 2.5)
    assert result["cost_ratio"] == pytest.approx(15.0 / 125.0)


def test_measured_click_time_needs_two_timestamps():
    assert measured_seconds_per_click(_points(3)) is None
    assert measured_seconds_per_click(_points(3, times=[np.nan, 4.0, np.nan])) is None
    assert measured_seconds_per_click(_points(2, times=[0.0, 500.0])) is None  # only a break


def test_measured_click_time_per_annotator():
    # two annotators interleaved in time: intervals are taken within each session (4, 4 and 1, 1)
    points = _points(6, times=[0, 4, 8, 100, 101, 102], annotators=["a", "a", "a", "b", "b", "b"])
    assert measured_seconds_per_click(points) == pytest.approx(2.5)


def test_case_cost_without_labels_or_points():
    no_labels = case_cost(_points(4), None, LUMBAR, CostModel(seconds_per_click=3.0), slice_axis=2)
    assert no_labels["click_seconds"] == 12.0 and no_labels["full_seconds"] is None and no_labels["cost_ratio"] is None
    empty = case_cost(_points(4), np.zeros((3, 3, 3), np.uint8), LUMBAR, CostModel(), slice_axis=2)
    assert empty["structure_slices"] == 0 and empty["cost_ratio"] is None


def test_anatomical_axis_for_non_ras_affines():
    assert nib.aff2axcodes(PIR) == ("P", "I", "R")
    assert anatomical_axis(PIR, "axial") == 1
    assert anatomical_axis(PIR, "transverse") == 1
    assert anatomical_axis(PIR, "coronal") == 0
    assert anatomical_axis(PIR, "sagittal") == 2
    assert anatomical_axis(np.eye(4), "axial") == 2
    lps = np.diag([-1.0, -1.0, 1.0, 1.0])
    assert anatomical_axis(lps, "sagittal") == 0
    with pytest.raises(InputError):
        anatomical_axis(PIR, "oblique")


def test_dataset_cost_counts_axial_slices_of_a_pir_case(tmp_path):
    labels = np.zeros((6, 12, 5), dtype=np.uint8)
    labels[:, 2:6, 0:2] = 1  # axial (axis 1) slices 2..5 -> 4; sagittal (axis 2) 2; coronal (axis 0) 6
    labels[:, 4:10, 1:4] = 2  # axial 4..9 -> 6; sagittal 3; coronal 6
    root = tmp_path / "ds"
    folder = write_case(root, "pir", labels, PIR)
    write_points(folder / "points.csv", Points.from_voxels(["L1", "L2", "background"] * 4, np.ones((12, 3)), PIR))
    write_case(root, "no_points", labels, PIR)
    cases = discover_cases(root)

    result = dataset_cost(cases, LUMBAR)
    assert result["n_cases"] == 1 and result["skipped"] == ["no_points"]
    assert result["clicks"] == 12 and result["click_seconds"] == pytest.approx(24.0)
    assert result["structure_slices"] == 10 and result["full_seconds"] == pytest.approx(125.0)
    assert result["cost_ratio"] == pytest.approx(0.192)
    assert result["click_time_source"] == "default"
    case = result["per_case"][0]
    assert case["case"] == "pir" and case["slice_axis"] == 1 and case["slice_axcode"] == "I"

    assert dataset_cost(cases, LUMBAR, slice_axis_name="sagittal")["structure_slices"] == 5
    assert dataset_cost(cases, LUMBAR, slice_axis_name="coronal")["structure_slices"] == 12


def test_cost_per_group_by_hand():
    bones = get_label_set("bones")
    labels = np.zeros((6, 6, 10), dtype=np.uint8)
    labels[1:3, 1:3, 0:4] = bones.id_of("vertebrae_T7")  # 4 axial slices
    labels[3:5, 3:5, 2:9] = bones.id_of("rib_left_7")  # 7 slices
    labels[0:2, 4:6, 5:7] = bones.id_of("femur_right")  # 2 slices
    names = ["vertebrae_T7"] * 5 + ["rib_left_7"] * 5 + ["femur_right"] * 3 + ["background"] * 4
    points = Points(names, np.zeros((17, 3)), np.zeros((17, 3)))
    groups = case_cost(points, labels, bones, CostModel(), slice_axis=2)["groups"]
    # 2 s per click, 12.5 s per structure-slice: vertebrae 10 s / 50 s, ribs 10 s / 87.5 s, large bones 6 s / 25 s
    assert groups["vertebrae"] == {"clicks": 5, "click_seconds": 10.0, "structure_slices": 4, "full_seconds": 50.0,
                                   "cost_ratio": pytest.approx(0.2)}
    assert groups["ribs"]["cost_ratio"] == pytest.approx(10.0 / 87.5)
    assert groups["large_bones"]["structure_slices"] == 2 and groups["large_bones"]["cost_ratio"] == pytest.approx(0.24)
    assert "organs" not in groups
