"""Reader and writers: what a case opens as, and the round trip back to points.csv and NIfTI."""

from __future__ import annotations

import numpy as np
import pytest

from pointseg.annotate.layers import DisplayGeometry, image_layer
from pointseg.annotate.reader import get_reader, points_path_for
from pointseg.annotate.writer import write_labels_layer, write_points_layer
from pointseg.simulate.clicks import ClickConfig
from pointseg.labels import get_label_set
from pointseg.io.points import Points, read_points, write_points
from pointseg.simulate.cases import write_simulated_clicks
from pointseg.io.volume import Volume, read_volume, write_itk, write_nifti
from tests.conftest import box_labels, oblique_affine


def _layers(path):
    reader = get_reader(str(path))
    assert reader is not None, path
    return {meta["name"]: (data, meta, kind) for data, meta, kind in reader(str(path))}


def test_geometry_maps_display_indices_to_voxels_on_oblique_grids():
    # PIR-like oblique 3x1x1 mm grid: display axes must run I, P, L and keep the spacing per axis
    volume = Volume(np.zeros((7, 9, 11), np.int16), oblique_affine(spacing=(3.0, 1.0, 2.0)))
    geometry = DisplayGeometry.of(volume)
    ijk = np.array([[0, 0, 0], [6, 8, 10], [3.25, 1.5, 7.0]])
    display = geometry.to_display(ijk)
    assert np.allclose(geometry.to_voxel(display), ijk)
    assert geometry.inside(display).all() and not geometry.inside(display + 20).any()
    data, meta, kind = image_layer(volume)
    assert kind == "image" and data.shape == geometry.display_shape
    assert sorted(geometry.scale) == pytest.approx([1.0, 2.0, 3.0])
    # each display axis points toward inferior, posterior, left (world mm changes with that sign)
    world = volume.voxel_to_world(geometry.to_voxel(np.eye(3)))
    origin = volume.voxel_to_world(geometry.to_voxel(np.zeros((1, 3))))[0]
    steps = world - origin
    assert steps[0, 2] < 0 and steps[1, 1] < 0 and steps[2, 0] < 0
    # a display voxel holds the same value as the original voxel it maps to
    volume.array[...] = np.arange(volume.array.size).reshape(volume.shape)
    data, _, _ = image_layer(volume)
    for d in ([0, 0, 0], [4, 2, 5], list(np.array(data.shape) - 1)):
        i, j, k = np.rint(geometry.to_voxel(np.array(d))[0]).astype(int)
        assert data[tuple(d)] == volume.array[i, j, k]


def test_case_folder_opens_ct_labels_pseudo_and_points(real_dataset):
    case = real_dataset / "tptbox_l3"
    write_simulated_clicks(real_dataset, get_label_set(), ClickConfig(per_class=2, background=3), seed=1)
    ct = read_volume(case / "ct.nii.gz")
    write_nifti(Volume(read_volume(case / "labels.nii.gz").array, ct.affine), case / "pseudo.nii.gz")
    layers = _layers(case)
    assert list(layers) == ["tptbox_l3 CT", "tptbox_l3 labels", "tptbox_l3 pseudo-mask", "tptbox_l3 points"]
    assert [kind for _, _, kind in layers.values()] == ["image", "labels", "labels", "points"]
    data, meta, _ = layers["tptbox_l3 points"]
    assert meta["metadata"]["pointseg"]["points_path"] == str(case / "points.csv")
    original = read_points(case / "points.csv", ct.affine, get_label_set(), ct.shape)
    assert list(meta["features"]["label"]) == original.labels and len(data) == len(original)
    # the ct.nii.gz file inside a case opens the whole case too
    assert list(_layers(case / "ct.nii.gz")) == list(layers)


def test_points_round_trip_reproduces_voxel_and_world_columns(real_dataset, tmp_path):
    case = real_dataset / "tptbox_l3"
    write_simulated_clicks(real_dataset, get_label_set(), ClickConfig(per_class=3, background=4), seed=2)
    ct = read_volume(case / "ct.nii.gz")
    before = read_points(case / "points.csv", ct.affine, get_label_set(), ct.shape)
    before.time_s[:] = 1.7e9 + np.arange(len(before))
    before.annotator[:] = ["ann"] * len(before)
    write_points(case / "points.csv", before)
    data, meta, _ = _layers(case)["tptbox_l3 points"]
    out = tmp_path / "saved.csv"
    assert write_points_layer(str(out), data, meta) == [str(out)]
    after = read_points(out, ct.affine, get_label_set(), ct.shape)
    assert after.labels == before.labels and after.annotator == before.annotator
    assert np.allclose(after.ijk, before.ijk, atol=1e-3)
    assert np.allclose(after.xyz, before.xyz, atol=1e-3)
    assert np.allclose(after.time_s, before.time_s, atol=1e-3)
    header = out.read_text(encoding="utf-8").splitlines()[0]
    assert header == "label,i,j,k,x,y,z,time_s,annotator"


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd", ".mha"])
def test_labels_round_trip_lands_on_the_ct_grid(tmp_path, suffix):
    affine = oblique_affine(spacing=(3.0, 1.0, 1.0))
    labels = box_labels()
    path = tmp_path / f"seg{suffix}"
    (write_nifti if suffix == ".nii.gz" else write_itk)(Volume(labels, affine), path)
    layers = _layers(path)
    data, meta, kind = layers["seg"]
    assert kind == "labels" and data.shape != labels.shape  # shown reoriented
    out = write_labels_layer(str(tmp_path / "back"), data, meta)
    assert out == [str(tmp_path / "back.nii.gz")]
    back = read_volume(out[0])
    assert back.array.dtype == np.uint8 and np.array_equal(back.array, labels)
    assert np.allclose(back.affine, affine, atol=1e-4)


def test_standalone_ct_keeps_points_next_to_it(tmp_path):
    ct = np.random.default_rng(0).normal(0, 300, (20, 24, 18)).astype(np.int16)
    path = tmp_path / "scan.nrrd"
    write_itk(Volume(ct, np.diag([0.8, 0.8, 2.5, 1.0])), path)
    layers = _layers(path)
    assert [kind for _, _, kind in layers.values()] == ["image", "points"]
    _, meta, _ = layers["scan points"]
    assert meta["metadata"]["pointseg"]["points_path"] == str(tmp_path / "scan_points.csv")
    assert points_path_for(tmp_path / "a.nii.gz") == tmp_path / "a_points.csv"
    _, image_meta, _ = layers["scan"]
    assert sorted(image_meta["scale"]) == pytest.approx([0.8, 0.8, 2.5])


def test_dicom_folder_opens(tmp_path):
    import SimpleITK as sitk

    folder = tmp_path / "series"
    folder.mkdir()
    array = np.random.default_rng(1).integers(-1000, 1500, (6, 16, 12)).astype(np.int16)  # z, y, x
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((0.7, 0.7, 2.0))
    for z in range(array.shape[0]):
        piece = image[:, :, z]
        writer = sitk.ImageFileWriter()
        writer.KeepOriginalImageUIDOn()
        for tag, value in (("0020|0013", str(z)), ("0020|0032", f"0\\0\\{2.0 * z}"), ("0020|000e", "1.2.3.4"),
                           ("0008|0060", "CT"), ("0020|0037", "1\\0\\0\\0\\1\\0")):
            piece.SetMetaData(tag, value)
        writer.SetFileName(str(folder / f"{z:03d}.dcm"))
        writer.Execute(piece)
    layers = _layers(folder)
    data, _, kind = layers["series"]
    assert kind == "image" and sorted(data.shape) == [6, 12, 16]
    assert layers["series points"][1]["metadata"]["pointseg"]["points_path"] == str(tmp_path / "series_points.csv")


def test_reader_declines_what_it_cannot_open(tmp_path):
    (tmp_path / "notes.csv").write_text("a,b\n")
    (tmp_path / "empty").mkdir()
    assert get_reader(str(tmp_path / "notes.csv")) is None
    assert get_reader(str(tmp_path / "empty")) is None
    assert get_reader(str(tmp_path / "missing.nii.gz")) is None
    assert get_reader([str(tmp_path / "notes.csv"), str(tmp_path / "empty")]) is None


def test_writers_refuse_layers_without_ct_geometry(tmp_path):
    with pytest.raises(ValueError, match="no CT geometry"):
        write_points_layer(str(tmp_path / "p.csv"), np.zeros((1, 3)), {"metadata": {}})
    with pytest.raises(ValueError, match="no CT geometry"):
        write_labels_layer(str(tmp_path / "l.nii.gz"), np.zeros((2, 2, 2), np.uint8), {"metadata": {}})
    assert not any(tmp_path.iterdir())
    assert Points([], np.zeros((0, 3)), np.zeros((0, 3))).labels == []
