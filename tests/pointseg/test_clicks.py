import numpy as np
import pytest
from scipy import ndimage

from pointseg.cli import main
from pointseg.simulate.clicks import ClickConfig, case_rng, simulate_clicks
from pointseg.io.dataset import discover_cases
from pointseg.errors import InputError
from pointseg.labels import get_label_set
from pointseg.io.points import read_points

LUMBAR = get_label_set()


def _assert_inside(points, labels):
    index = np.rint(points.ijk).astype(int)
    assert np.all(np.abs(points.ijk - index) <= 0.5)
    for name, voxel in zip(points.labels, index):
        assert labels.array[tuple(voxel)] == LUMBAR.id_of(name), (name, voxel)
    assert np.allclose(points.xyz, labels.voxel_to_world(points.ijk), atol=5e-3)  # the file keeps 3 decimals


@pytest.mark.parametrize("strategy", ["random", "center"])
@pytest.mark.parametrize("jitter", [0.0, 2.0])
def test_every_click_lies_inside_its_structure(box_dataset, strategy, jitter):
    for case in discover_cases(box_dataset):
        labels, ct = case.load_labels(), case.load_ct()
        config = ClickConfig(per_class=6, background=6, strategy=strategy, jitter_mm=jitter, margin_mm=2.0)
        points = simulate_clicks(labels, LUMBAR, config, case_rng(3, case.id), ct)
        assert points.counts() == {"L1": 6, "L2": 6, "L3": 6, "L4": 6, "L5": 6, "background": 6}
        _assert_inside(points, labels)


def test_clicks_keep_away_from_the_border(box_dataset):
    case = discover_cases(box_dataset / "ras")[0]
    labels = case.load_labels()
    # boxes are 8 voxels thick (depth 4 at most): a 2 mm margin is kept; thinner parts cap it at half the depth
    points = simulate_clicks(labels, LUMBAR, ClickConfig(per_class=10, background=0, margin_mm=2.0), case_rng(0, "x"))
    depth = ndimage.distance_transform_edt(np.pad(labels.array > 0, 1))[1:-1, 1:-1, 1:-1]
    inside = depth[tuple(np.rint(points.ijk).astype(int).T)]
    assert inside.min() >= 2.0
    centre = simulate_clicks(labels, LUMBAR, ClickConfig(per_class=10, background=0, strategy="center"), case_rng(0, "x"))
    assert depth[tuple(np.rint(centre.ijk).astype(int).T)].mean() > inside.mean()


def test_hard_negatives_land_on_other_bone(box_dataset):
    case = discover_cases(box_dataset / "ras")[0]
    labels, ct = case.load_labels(), case.load_ct()
    ct.array[2:6, 2:6, :] = 800  # unlabelled bone, away from the vertebrae
    config = ClickConfig(per_class=0, background=10, hard_negative_fraction=0.4, near_fraction=0.3, margin_mm=2.0,
                         near_mm=4.0)
    points = simulate_clicks(labels, LUMBAR, config, case_rng(1, case.id), ct)
    index = tuple(np.rint(points.ijk).astype(int).T)
    assert (ct.array[index] > config.bone_hu).sum() == 4
    assert all(name == "background" for name in points.labels)
    distance = ndimage.distance_transform_edt(labels.array == 0, sampling=labels.spacing)[index]
    soft = ct.array[index] <= config.bone_hu
    assert np.sum(soft & (distance <= 4.0)) >= 3, "three soft-tissue clicks close to the vertebrae"
    assert np.all(distance >= 2.0)


def test_same_seed_same_clicks_other_seed_other_clicks(box_dataset):
    labels = discover_cases(box_dataset / "ras")[0].load_labels()
    a = simulate_clicks(labels, LUMBAR, ClickConfig(), case_rng(7, "ras"))
    b = simulate_clicks(labels, LUMBAR, ClickConfig(), case_rng(7, "ras"))
    c = simulate_clicks(labels, LUMBAR, ClickConfig(), case_rng(8, "ras"))
    assert np.array_equal(a.ijk, b.ijk) and not np.array_equal(a.ijk, c.ijk)


def test_cli_on_the_real_case_and_no_overwrite(real_dataset, capsys):
    args = ["simulate-clicks", str(real_dataset), "--per-class", "4", "--background", "6", "--seed", "2",
            "--jitter-mm", "1", "--quiet"]
    assert main(args) == 0
    case = discover_cases(real_dataset)[0]
    labels, ct = case.load_labels(), case.load_ct()
    points = read_points(case.points_path, ct.affine, LUMBAR, ct.shape)
    assert points.counts() == {"L2": 4, "L3": 4, "L4": 4, "background": 6}  # the real case holds L2-L4 only
    _assert_inside(points, labels)
    before = case.points_path.read_text(encoding="utf-8")
    assert main(args) == 2
    assert "points.csv: already exists (use --force to overwrite)" in capsys.readouterr().err
    assert case.points_path.read_text(encoding="utf-8") == before
    assert main(args + ["--seed", "3", "--force"]) == 0
    assert case.points_path.read_text(encoding="utf-8") != before


def test_unknown_strategy():
    with pytest.raises(InputError, match="unknown click strategy"):
        ClickConfig(strategy="edges")
