import numpy as np
import pytest

from pointseg.errors import InputError
from pointseg.labels import get_label_set
from pointseg.io.points import Points, format_points, read_points, write_points
from tests.conftest import oblique_affine

LUMBAR = get_label_set("lumbar")
AFFINE = oblique_affine()


def _write(tmp_path, text):
    path = tmp_path / "points.csv"
    path.write_text(text)
    return path


def test_round_trip_keeps_voxel_world_time_and_annotator(tmp_path):
    points = Points.from_voxels(["L1", "background"], [[1.25, 2, 3], [4, 5.5, 6]], AFFINE,
                                time_s=[0.5, np.nan], annotator=["ann", ""])
    write_points(tmp_path / "points.csv", points)
    back = read_points(tmp_path / "points.csv", AFFINE, LUMBAR)
    assert back.labels == ["L1", "background"]
    assert np.allclose(back.ijk, points.ijk, atol=1e-3)
    assert np.allclose(back.xyz, points.xyz, atol=1e-3)
    assert back.time_s[0] == pytest.approx(0.5) and np.isnan(back.time_s[1])
    assert back.annotator == ["ann", ""]


def test_world_columns_agree_with_affine():
    points = Points.from_voxels(["L3"], [[2, 0, 1]], AFFINE)
    assert np.allclose(points.xyz[0], AFFINE[:3, :3] @ [2, 0, 1] + AFFINE[:3, 3])


def test_voxel_only_and_world_only_files(tmp_path):
    voxel_only = read_points(_write(tmp_path, "label,i,j,k\nL2,1,2,3\n"), AFFINE, LUMBAR)
    assert np.allclose(voxel_only.xyz[0], AFFINE[:3, :3] @ [1, 2, 3] + AFFINE[:3, 3])
    x, y, z = voxel_only.xyz[0]
    world_only = read_points(_write(tmp_path, f"label,x,y,z\nL2,{x},{y},{z}\n"), AFFINE, LUMBAR)
    assert np.allclose(world_only.ijk[0], [1, 2, 3])


def test_disagreeing_columns_name_the_line(tmp_path):
    x, y, z = Points.from_voxels(["L1"], [[1, 2, 3]], AFFINE).xyz[0]
    ok = f"label,i,j,k,x,y,z\nL1,1.4,2,3,{x},{y},{z}\n"  # 0.4 voxel apart: accepted
    assert len(read_points(_write(tmp_path, ok), AFFINE, LUMBAR)) == 1
    bad = f"label,i,j,k,x,y,z\nL1,1,2,3,{x},{y},{z}\nL1,1.7,2,3,{x},{y},{z}\n"
    with pytest.raises(InputError, match=r"points.csv: line 3: .*disagree by 0.70 voxels"):
        read_points(_write(tmp_path, bad), AFFINE, LUMBAR)


@pytest.mark.parametrize(
    "text, message",
    [
        ("label,i,j,k\nL9,1,2,3\n", "line 2: unknown label 'L9'"),
        ("label,i,j,k\nL1,1,two,3\n", "line 2: column 'j' is not a number"),
        ("label,i,j\nL1,1,2\n", "header must hold"),
        ("", "header must hold"),
        ("label,i,j,k\nL1,1,2,3\nL1,1,2,nan\n", "line 3: column 'k' is not finite"),
    ],
)
def test_invalid_files(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        read_points(_write(tmp_path, text), AFFINE, LUMBAR)


def test_point_outside_the_volume(tmp_path):
    path = _write(tmp_path, "label,i,j,k\nL1,0,0,0\nL1,-0.4,0,9.4\nL2,10,0,0\n")
    with pytest.raises(InputError, match=r"line 4: point \(10.0, 0.0, 0.0\) is outside the volume"):
        read_points(path, AFFINE, LUMBAR, shape=(10, 10, 10))


def test_blank_lines_and_extra_columns_are_tolerated(tmp_path):
    points = read_points(_write(tmp_path, "label,i,j,k,comment\nL1,1,2,3,hi\n\n"), AFFINE, LUMBAR)
    assert points.counts() == {"L1": 1}


def test_no_overwrite_without_force(tmp_path):
    points = Points.from_voxels(["L1"], [[1, 2, 3]], AFFINE)
    write_points(tmp_path / "p.csv", points)
    with pytest.raises(InputError, match="already exists"):
        write_points(tmp_path / "p.csv", points, force=False)
    assert format_points(points).splitlines()[0] == "label,i,j,k,x,y,z,time_s,annotator"
