import gzip

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from pointseg.errors import InputError
from pointseg.io.volume import Volume, grid_difference, read_volume, to_sitk, write_itk, write_nifti
from pointseg.io.grid import reorient, resample_like, resample_to_spacing, undo_reorient
from tests.conftest import REAL_CASE, oblique_affine


def _volume(shape=(6, 7, 8), affine=None, dtype=np.int16):
    array = (np.arange(np.prod(shape)) % 1000 - 300).reshape(shape).astype(dtype)
    return Volume(array, oblique_affine() if affine is None else affine)


def test_nifti_round_trip_keeps_array_and_affine(tmp_path):
    volume = _volume()
    write_nifti(volume, tmp_path / "a.nii.gz")
    back = read_volume(tmp_path / "a.nii.gz")
    assert np.array_equal(back.array, volume.array)
    assert np.allclose(back.affine, volume.affine, atol=1e-5)
    assert not list(tmp_path.glob(".*tmp*")), "no temporary file is left behind"


@pytest.mark.parametrize("suffix", [".nrrd", ".mha"])
def test_itk_formats_keep_geometry(tmp_path, suffix):
    volume = _volume()
    write_itk(volume, tmp_path / f"a{suffix}")
    back = read_volume(tmp_path / f"a{suffix}")
    assert np.array_equal(back.array, volume.array)
    assert np.allclose(back.affine, volume.affine, atol=1e-5)
    # the same world point under both readers: voxel (1, 2, 3)
    assert np.allclose(back.voxel_to_world([[1, 2, 3]]), volume.voxel_to_world([[1, 2, 3]]), atol=1e-5)


AXIAL_DICOM_AFFINE = np.array([[-0.8, 0, 0, 10], [0, -0.8, 0, 20], [0, 0, 2.5, -30], [0, 0, 0, 1.0]])


def write_dicom_series(folder, volume, orientation="1\\0\\0\\0\\1\\0"):
    """One DICOM file ``NNN.dcm`` per slice ``k`` of ``volume`` (axial: the affine's k axis is +z)."""
    image = to_sitk(volume)
    folder.mkdir(parents=True)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    for k in range(image.GetDepth()):
        slice_image = image[:, :, k]
        slice_image.SetMetaData("0020|000e", "1.2.826.0.1.3680043.2.1125.1")  # series instance UID
        slice_image.SetMetaData("0020|0032", "\\".join(map(str, image.TransformIndexToPhysicalPoint((0, 0, k)))))
        slice_image.SetMetaData("0020|0013", str(k))
        slice_image.SetMetaData("0020|0037", orientation)
        slice_image.SetMetaData("0008|0060", "CT")
        writer.SetFileName(str(folder / f"{k:03d}.dcm"))
        writer.Execute(slice_image)
    return folder


def test_dicom_series_folder_is_read_with_its_geometry(tmp_path):
    volume = _volume(shape=(8, 9, 5), affine=AXIAL_DICOM_AFFINE)
    folder = write_dicom_series(tmp_path / "ct", volume)
    back = read_volume(folder)
    assert back.shape == volume.shape
    assert np.array_equal(back.array, volume.array)
    assert np.allclose(back.affine, volume.affine, atol=1e-4)


def test_dicom_series_with_a_missing_slice_is_an_input_error(tmp_path):
    # slices at z = -30, -27.5, ..., -15 mm; the one at z = -22.5 is deleted
    folder = write_dicom_series(tmp_path / "ct", _volume(shape=(8, 9, 7), affine=AXIAL_DICOM_AFFINE))
    (folder / "003.dcm").unlink()
    with pytest.raises(InputError) as error:
        read_volume(folder)
    assert str(error.value) == (
        f"{folder}: slice spacing is uneven: 5 mm between slices at z=-25 and z=-20 mm "
        "where the others are 2.5 mm (a missing slice?)"
    )
    assert error.value.path == str(folder)


def test_dicom_series_with_a_duplicate_slice_is_an_input_error(tmp_path):
    folder = write_dicom_series(tmp_path / "ct", _volume(shape=(8, 9, 5), affine=AXIAL_DICOM_AFFINE))
    copy = sitk.ReadImage(str(folder / "002.dcm"))
    copy.SetMetaData("0020|0013", "99")
    copy.SetMetaData("0008|0018", "1.2.826.0.1.3680043.2.1125.99")  # its own SOP instance UID
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    writer.SetFileName(str(folder / "099.dcm"))
    writer.Execute(copy)
    with pytest.raises(InputError) as error:
        read_volume(folder)
    assert str(error.value) == (
        f"{folder}: two slices share a position: 002.dcm and 099.dcm are both at z=-25 mm (a duplicate slice?)"
    )


def test_uneven_coronal_dicom_series_names_positions_along_the_normal(tmp_path):
    # rows along x, columns along z: the slice normal is -y (LPS), slices 1.5 mm apart with one gap of 3 mm
    coronal = np.array([[-0.8, 0, 0, 10], [0, 0, 1.5, 20], [0, 0.8, 0, -30], [0, 0, 0, 1.0]])
    folder = write_dicom_series(tmp_path / "ct", _volume(shape=(6, 7, 6), affine=coronal), "1\\0\\0\\0\\0\\1")
    (folder / "002.dcm").unlink()
    with pytest.raises(InputError, match=r"slice spacing is uneven: 3 mm between slices at 21.5 and 24.5 mm along "
                                         r"the slice normal where the others are 1.5 mm \(a missing slice\?\)"):
        read_volume(folder)


def test_real_case_reads_in_its_own_orientation():
    ct = read_volume(REAL_CASE / "ct.nii.gz")
    assert ct.shape == (73, 47, 73)
    assert ct.axcodes == ("P", "I", "R")
    assert np.allclose(ct.spacing, 1.5)


def test_corrupt_nifti_is_an_input_error_naming_the_file(tmp_path):
    path = tmp_path / "bad.nii.gz"
    path.write_bytes(gzip.compress(b"this is not a nifti header" * 3))
    with pytest.raises(InputError, match="bad.nii.gz: cannot read image"):
        read_volume(path)


def test_truncated_nifti_is_an_input_error(tmp_path):
    write_nifti(_volume(shape=(30, 30, 30)), tmp_path / "a.nii.gz")
    data = (tmp_path / "a.nii.gz").read_bytes()
    (tmp_path / "cut.nii.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cut.nii.gz"):
        read_volume(tmp_path / "cut.nii.gz")


def test_missing_and_unknown_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_volume(tmp_path / "nothing.nii.gz")
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(InputError, match="unknown image format"):
        read_volume(tmp_path / "a.txt")


def test_reorient_is_exact_and_reversible():
    volume = _volume()
    canonical, ornt = reorient(volume)
    assert canonical.axcodes == ("R", "A", "S")
    assert np.array_equal(undo_reorient(canonical.array, ornt), volume.array)
    # a voxel keeps its world position
    world = canonical.voxel_to_world([[2, 3, 4]])[0]
    original_index = np.rint(volume.world_to_voxel([world])[0]).astype(int)
    assert canonical.array[2, 3, 4] == volume.array[tuple(original_index)]


def test_resample_to_spacing_keeps_extent_and_direction():
    volume = _volume(shape=(10, 20, 30), affine=oblique_affine(spacing=(3.0, 1.0, 1.0)))
    fine = resample_to_spacing(volume, 1.0)
    assert fine.shape == (30, 20, 30)
    assert np.allclose(fine.spacing, 1.0)
    direction = volume.affine[:3, :3] / volume.spacing
    assert np.allclose(fine.affine[:3, :3] / fine.spacing, direction)
    # the outer corner of voxel (0,0,0) is shared by both grids
    assert np.allclose(fine.voxel_to_world([[-0.5, -0.5, -0.5]]), volume.voxel_to_world([[-0.5, -0.5, -0.5]]))


def test_nearest_resampling_round_trip_restores_labels():
    labels = np.zeros((12, 16, 10), np.uint8)
    labels[3:9, 4:12, 2:7] = 3
    labels[5:7, 6:9, 3:5] = 1
    volume = Volume(labels, oblique_affine(spacing=(3.0, 1.0, 1.0)))
    there = resample_to_spacing(volume, 1.0, "nearest")
    back = resample_like(there, volume, "nearest")
    assert back.array.dtype == np.uint8
    assert np.array_equal(back.array, labels)


def test_linear_resampling_of_a_linear_ramp_is_exact_inside():
    i, j, k = np.meshgrid(np.arange(8), np.arange(9), np.arange(10), indexing="ij")
    volume = Volume((2.0 * i + 3.0 * j - k).astype(np.float32), np.diag([2.0, 2.0, 2.0, 1.0]))
    fine = resample_to_spacing(volume, 1.0)
    # fine voxel (4, 4, 4) sits at world 4.0 mm = coarse index 1.75 on each axis (edge-aligned grids)
    assert fine.voxel_to_world([[4, 4, 4]])[0] == pytest.approx([3.5, 3.5, 3.5])
    assert fine.array[4, 4, 4] == pytest.approx(2 * 1.75 + 3 * 1.75 - 1.75, abs=1e-4)


def test_shear_is_rejected():
    affine = np.eye(4)
    affine[0, 1] = 0.5
    with pytest.raises(InputError, match="shear"):
        to_sitk(Volume(np.zeros((2, 2, 2), np.float32), affine))


def test_header_with_scaling_is_applied(tmp_path):
    image = nib.Nifti1Image(np.full((3, 3, 3), 10, np.int16), np.eye(4))
    image.header.set_slope_inter(2.0, -1024.0)
    nib.save(image, tmp_path / "s.nii.gz")
    assert read_volume(tmp_path / "s.nii.gz").array[0, 0, 0] == pytest.approx(-1004.0)


@pytest.mark.parametrize("suffix", [".nii.gz", ".mha"])
def test_nan_and_infinite_voxels_are_an_input_error_naming_the_file(tmp_path, suffix):
    array = np.zeros((5, 6, 7), np.float32)
    array[1, 2, 3] = np.nan
    array[2, 0, 0] = np.inf
    array[4, 5, 6] = -np.inf
    path = tmp_path / f"ct{suffix}"
    (write_nifti if suffix == ".nii.gz" else write_itk)(Volume(array, np.eye(4)), path)
    with pytest.raises(InputError) as error:
        read_volume(path)
    assert str(error.value) == f"{path}: 3 voxels are NaN or infinite (the first at voxel i,j,k = (1, 2, 3))"
    array[...] = 0
    array[0, 0, 1] = np.nan
    write_nifti(Volume(array, np.eye(4)), tmp_path / "one.nii.gz")
    with pytest.raises(InputError, match=r"one.nii.gz: 1 voxel is NaN or infinite \(the first at voxel i,j,k = \(0, 0, 1\)\)"):
        read_volume(tmp_path / "one.nii.gz", dtype=np.int16)


def test_large_finite_floats_are_not_mistaken_for_infinite(tmp_path):
    array = np.full((4, 4, 4), 1e308)  # their sum overflows; every voxel is still finite
    write_nifti(Volume(array, np.eye(4)), tmp_path / "big.nii.gz")
    assert np.array_equal(read_volume(tmp_path / "big.nii.gz").array, array)


def test_same_grid_and_grid_difference_agree_when_the_grids_match():
    volume = _volume()
    nearly = Volume(volume.array, volume.affine + 1e-4)
    assert volume.same_grid(nearly) and grid_difference(volume, nearly) is None
    assert volume.grid_difference(nearly) is None


def _shifted(affine, offset):
    affine = affine.copy()
    affine[:3, 3] += offset
    return affine


def _rotated_about_z(degrees):
    angle = np.deg2rad(degrees)
    affine = np.eye(4)
    affine[:2, :2] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    return affine


@pytest.mark.parametrize(
    "other, expected",
    [
        (Volume(np.zeros((6, 7, 9)), np.eye(4)), "shape differs (a (6, 7, 8), b (6, 7, 9))"),
        (Volume(np.zeros((6, 7, 8)), np.diag([1.0, 1.0, 1.25, 1.0])), "spacing differs (a 1 x 1 x 1 mm, b 1 x 1 x 1.25 mm)"),
        (Volume(np.zeros((6, 7, 8)), _shifted(np.eye(4), [0.0, 0.0, 0.5])),
         "origin differs by 0.5 mm (a at (0, 0, 0), b at (0, 0, 0.5) mm RAS)"),
        (Volume(np.zeros((6, 7, 8)), np.diag([-1.0, -1.0, 1.0, 1.0])), "orientation differs (a RAS, b LPS)"),
        (Volume(np.zeros((6, 7, 8)), _rotated_about_z(2.0)),
         "direction differs (axes up to 2 degrees apart, both RAS)"),
        (Volume(np.zeros((6, 7, 9)), _shifted(np.diag([1.0, 1.0, 2.0, 1.0]), [1.0, 2.0, -2.0])),
         "shape differs (a (6, 7, 8), b (6, 7, 9)); spacing differs (a 1 x 1 x 1 mm, b 1 x 1 x 2 mm); "
         "origin differs by 3 mm (a at (0, 0, 0), b at (1, 2, -2) mm RAS)"),
    ],
    ids=["shape", "spacing", "origin", "orientation", "direction", "several"],
)
def test_grid_difference_names_what_differs_with_the_numbers(other, expected):
    volume = Volume(np.zeros((6, 7, 8)), np.eye(4))
    assert grid_difference(volume, other, names=("a", "b")) == expected
    assert volume.grid_difference(other, names=("a", "b")) == expected
    assert not volume.same_grid(other)


def test_grid_difference_tolerance_and_small_differences():
    volume = Volume(np.zeros((6, 7, 8)), np.eye(4))
    shifted = Volume(np.zeros((6, 7, 8)), _shifted(np.eye(4), [0.0, 0.004, 0.0]))
    assert grid_difference(volume, shifted, atol_mm=1e-2) is None
    assert grid_difference(volume, shifted, names=("a", "b")) == (
        "origin differs by 0.004 mm (a at (0, 0, 0), b at (0, 0.004, 0) mm RAS)"
    )
    finer = Volume(np.zeros((6, 7, 8)), np.diag([1.0, 1.0004, 1.0, 1.0]))
    assert volume.same_grid(finer)
    finer = Volume(np.zeros((6, 7, 8)), np.diag([1.0, 1.0015, 1.0, 1.0]))
    assert grid_difference(volume, finer, names=("a", "b")) == "spacing differs (a 1 x 1 x 1 mm, b 1 x 1.002 x 1 mm)"
