"""One label set from click to report: pseudo-masks say which set they were fused in, runs of one set are
never used by a command of another."""

from __future__ import annotations

import numpy as np
import pytest

from pointseg.cli import main
from pointseg.errors import InputError
from pointseg.io.dataset import PSEUDO_META_NAME, Case, discover_cases, write_pseudo
from pointseg.io.volume import Volume
from pointseg.labels import get_label_set
from pointseg.runs import RunInfo, write_run_files
from tests.conftest import write_case


@pytest.fixture
def case(tmp_path) -> Case:
    labels = np.zeros((6, 7, 8), np.uint8)
    write_case(tmp_path / "ds", "a", labels, np.eye(4))
    return discover_cases(tmp_path / "ds")[0]


def test_a_pseudo_mask_is_read_by_name_in_a_set_that_holds_it(case):
    ribs, bones = get_label_set("ribs"), get_label_set("bones")
    pseudo = np.zeros((6, 7, 8), np.uint8)
    pseudo[1, 1, 1] = ribs.id_of("rib_left_1")  # id 1 in ribs; id 1 in bones is vertebrae_C1
    pseudo[2, 2, 2] = ribs.id_of("rib_right_12")
    write_pseudo(case, Volume(pseudo, np.eye(4)), ribs)
    assert (case.dir / PSEUDO_META_NAME).exists() and case.pseudo_label_set == ribs
    as_bones = np.asarray(case.load_pseudo(bones).array)
    assert as_bones[1, 1, 1] == bones.id_of("rib_left_1") and as_bones[2, 2, 2] == bones.id_of("rib_right_12")
    assert np.count_nonzero(as_bones) == 2
    assert np.array_equal(case.load_pseudo(ribs).array, pseudo)


def test_a_pseudo_mask_is_refused_by_a_set_that_cannot_hold_it(case):
    write_pseudo(case, Volume(np.ones((6, 7, 8), np.uint8), np.eye(4)), get_label_set("ribs"))
    with pytest.raises(InputError, match="fused in label set 'ribs'.*'lumbar' cannot hold.*--labels ribs"):
        case.load_pseudo(get_label_set("lumbar"))


def test_fuse_refuses_planar_runs_of_another_label_set(case, capsys):
    runs = case.dir.parent / "planar-runs"
    for axis in ("axial", "coronal", "sagittal"):
        write_run_files(runs / axis, RunInfo("weak_planar", "slices", "lumbar", "clicks", axis), {}, 0, None, {})
    (case.dir / "points.csv").write_text("label,i,j,k\nrib_left_1,1,1,1\n", encoding="utf-8")
    assert main(["fuse", str(case.dir.parent), "--labels", "ribs", "--profile", "tiny", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "trained on label set 'lumbar', not 'ribs'; use --labels lumbar" in err and "axial" in err
