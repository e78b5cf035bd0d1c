"""Bad input, as a hostile but fair user gives it: every case ends with one line naming the file and the
problem and exit status 2, before any long work starts. One row per kind of input."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from pointseg.cli import main
from pointseg.io.volume import Volume, write_nifti
from pointseg.runs import RunInfo, write_run_files
from tests.conftest import box_labels, write_case


def _dataset(tmp_path):
    """One small lumbar case with labels and three clicks."""
    labels = box_labels((24, 20, 40))
    case = write_case(tmp_path / "ds", "a", labels, np.diag([2.0, 2.0, 2.0, 1.0]))
    (case / "points.csv").write_text("label,i,j,k\nL1,12,10,5\nL2,12,10,12\nbackground,1,1,1\n", encoding="utf-8")
    return tmp_path / "ds"


def singular_affine(tmp_path):
    # a header whose srow_z is all zero and whose qform is off: nibabel will not even write one, so the test
    # patches the bytes of a good file (srow_z at byte 312, qform_code at 252 of the NIfTI-1 header)
    import gzip
    import struct

    ds = _dataset(tmp_path)
    path = ds / "a" / "ct.nii.gz"
    data = bytearray(gzip.decompress(path.read_bytes()))
    data[312:328] = struct.pack("<4f", 0, 0, 0, 0)
    data[252:254] = struct.pack("<h", 0)
    path.write_bytes(gzip.compress(bytes(data)))
    return ["check", str(ds)], "ct.nii.gz", "the affine maps no volume"


def flipped_byte(tmp_path):
    # one byte flipped in the middle of the compressed CT: gzip's CRC at the end of the stream says so
    ds = _dataset(tmp_path)
    path = ds / "a" / "ct.nii.gz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    return ["check", str(ds)], "ct.nii.gz", "cannot read image"


def trailing_empty_row(tmp_path):
    ds = _dataset(tmp_path)
    (ds / "a" / "points.csv").write_text("label,i,j,k\nL1,12,10,5\n,,,,5\n", encoding="utf-8")
    return ["check", str(ds)], "points.csv", "line 3: 1 field(s) more than the header's 4 columns"


def empty_checkpoint(tmp_path):
    ds = _dataset(tmp_path)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "checkpoint_last.pt").write_bytes(b"")
    return (["predict", str(tmp_path / "run"), str(ds / "a" / "ct.nii.gz"), "--out", str(tmp_path / "p.nii.gz")],
            "checkpoint_last.pt", "cannot read checkpoint")


def predict_out_is_a_folder(tmp_path):
    ds = _dataset(tmp_path)
    return (["predict", str(tmp_path / "nowhere"), str(ds / "a" / "ct.nii.gz"), "--out", str(ds)], str(ds),
            "is a folder, not a file name")


def predict_out_is_text(tmp_path):
    ds = _dataset(tmp_path)
    return (["predict", str(tmp_path / "nowhere"), str(ds / "a" / "ct.nii.gz"), "--out", str(tmp_path / "p.txt")],
            "p.txt", "must end in .nii.gz or .nii")


def predict_out_under_a_file(tmp_path):
    ds = _dataset(tmp_path)
    (tmp_path / "file").write_text("x", encoding="utf-8")
    return (["predict", str(tmp_path / "nowhere"), str(ds / "a" / "ct.nii.gz"), "--out",
             str(tmp_path / "file" / "p.nii.gz")], "p.nii.gz", "is a file, not a folder")


def train_out_is_a_file(tmp_path):
    ds = _dataset(tmp_path)
    (tmp_path / "run").write_text("x", encoding="utf-8")
    return (["train", str(ds), "--target", "labels", "--out", str(tmp_path / "run"), "--profile", "tiny"], "run",
            "is a file, not a folder")


def report_out_is_a_file(tmp_path):
    (tmp_path / "r").write_text("x", encoding="utf-8")
    return ["report", str(tmp_path), "--out", str(tmp_path / "r")], "r", "is a file, not a folder"


def fuse_runs_is_a_file(tmp_path):
    ds = _dataset(tmp_path)
    (tmp_path / "runs").write_text("x", encoding="utf-8")
    return ["fuse", str(ds), "--runs", str(tmp_path / "runs"), "--profile", "tiny"], "runs", "is a file, not a folder"


def fuse_without_a_click(tmp_path):
    ds = _dataset(tmp_path)
    (ds / "a" / "points.csv").write_text("label,i,j,k\n", encoding="utf-8")
    return ["fuse", str(ds), "--profile", "tiny"], "ds", "no points.csv holds a click"


def fuse_negative_opening(tmp_path):
    ds = _dataset(tmp_path)
    return ["fuse", str(ds), "--profile", "tiny", "--opening-mm", "-5"], "--opening-mm", "not -5"


def rgb_image(tmp_path):
    ds = _dataset(tmp_path)
    rgb = np.zeros((24, 20, 40), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    nib.save(nib.Nifti1Image(rgb, np.eye(4)), tmp_path / "rgb.nii.gz")
    return (["evaluate", str(tmp_path / "rgb.nii.gz"), str(ds / "a" / "labels.nii.gz")], "rgb.nii.gz",
            "voxels are not numbers")


def fractional_labels(tmp_path):
    ds = _dataset(tmp_path)
    (ds / "a" / "points.csv").unlink()
    labels = box_labels((24, 20, 40)).astype(np.float32)
    labels[labels == 2] = 1.5
    write_nifti(Volume(labels, np.diag([2.0, 2.0, 2.0, 1.0])), ds / "a" / "labels.nii.gz", dtype=np.float32)
    return ["simulate-clicks", str(ds)], "labels.nii.gz", "label ids 1.5 are not in label set 'lumbar'"


def huge_label_id(tmp_path):
    ds = _dataset(tmp_path)
    (ds / "a" / "points.csv").unlink()
    labels = box_labels((24, 20, 40)).astype(np.int32)
    labels[0, 0, 0] = 70000
    write_nifti(Volume(labels, np.diag([2.0, 2.0, 2.0, 1.0])), ds / "a" / "labels.nii.gz", dtype=np.int32)
    return ["simulate-clicks", str(ds)], "labels.nii.gz", "label ids 70000 are not in label set"


def resume_with_another_pipeline(tmp_path):
    ds = _dataset(tmp_path)
    write_run_files(tmp_path / "run", RunInfo("unet3d", "volume", "lumbar", "labels"), {}, 0, None, {})
    return (["train", str(ds), "--pipeline", "fcn8", "--target", "labels", "--out", str(tmp_path / "run"),
             "--resume", "--profile", "tiny"], "run", "made by the unet3d pipeline")


def resume_with_another_label_set(tmp_path):
    ds = _dataset(tmp_path)
    write_run_files(tmp_path / "run", RunInfo("fcn8", "slices", "lumbar", "labels", "sagittal"), {}, 0, None, {})
    return (["train", str(ds), "--pipeline", "fcn8", "--target", "labels", "--out", str(tmp_path / "run"),
             "--resume", "--labels", "ribs", "--profile", "tiny"], "run", "trained on label set 'lumbar', not 'ribs'")


def bad_orientation(tmp_path):
    return ["phantom", str(tmp_path / "ph"), "--orientation", "XYZ"], "--orientation", "not 'XYZ'"


def split_names_no_case(tmp_path):
    ds = _dataset(tmp_path)
    (ds / "split.json").write_text(json.dumps({"test": ["phantom_01"]}), encoding="utf-8")
    return ["check", str(ds)], "split.json", "no case named phantom_01"


def negative_slice_size(tmp_path):
    ds = _dataset(tmp_path)
    return ["preprocess", str(ds), "--size", "-5"], "--size", "not -5 x -5"


def zero_spacing(tmp_path):
    ds = _dataset(tmp_path)
    return ["preprocess", str(ds), "--spacing", "0"], "--spacing", "not 0"


CASES = [singular_affine, flipped_byte, trailing_empty_row, empty_checkpoint, predict_out_is_a_folder, predict_out_is_text,
         predict_out_under_a_file, train_out_is_a_file, report_out_is_a_file, fuse_runs_is_a_file, fuse_without_a_click,
         fuse_negative_opening, rgb_image, fractional_labels, huge_label_id, resume_with_another_pipeline,
         resume_with_another_label_set, bad_orientation, split_names_no_case, negative_slice_size, zero_spacing]


@pytest.mark.parametrize("make", CASES, ids=[c.__name__ for c in CASES])
def test_bad_input_ends_in_one_line_naming_the_problem(make, tmp_path, capsys):
    argv, names, problem = make(tmp_path)
    capsys.readouterr()
    assert main(argv + ["--quiet"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1, err  # `check` lists each problem on stdout and sums them up here
    assert "internal error" not in err and "Traceback" not in err
    said = err + captured.out
    assert names in said and problem in said, said
