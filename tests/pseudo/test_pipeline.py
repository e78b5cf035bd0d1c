"""pointseg fuse end to end at toy size: missing planar models are trained, pseudo-masks land on the CT grid."""

import h5py
import numpy as np
import pytest

from pointseg.cli import main
from pointseg.simulate.clicks import ClickConfig
from pointseg.labels import get_label_set
from pointseg.simulate.cases import write_phantoms, write_simulated_clicks
from pointseg.io.volume import Volume, read_volume, write_nifti
from tests.conftest import oblique_affine


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Two coarse phantoms; the second re-labelled with an oblique, anisotropic, permuted affine."""
    root = tmp_path_factory.mktemp("fuse")
    write_phantoms(root, 2, seed=3, spacing=(4.0, 4.0, 4.0), orientation="PIR")
    case = root / "phantom_001"
    ct, labels = read_volume(case / "ct.nii.gz"), read_volume(case / "labels.nii.gz")
    skewed = oblique_affine(spacing=(4.0, 4.0, 8.0), degrees=15.0, axcodes_perm=(0, 1, 2))
    write_nifti(Volume(ct.array[:, ::2], skewed), case / "ct.nii.gz")
    write_nifti(Volume(labels.array[:, ::2], skewed), case / "labels.nii.gz")
    write_simulated_clicks(root, get_label_set(), ClickConfig(per_class=2, background=4), seed=0)
    return root


def test_fuse_trains_missing_models_and_writes_pseudo_masks(dataset, capsys):
    args = ["fuse", str(dataset), "--profile", "tiny", "--quiet"]
    assert main(args) == 0
    for axis in ("axial", "coronal", "sagittal"):
        assert (dataset / "planar-runs" / axis / "checkpoint_last.pt").exists()
    for name in ("phantom_000", "phantom_001"):
        case = dataset / name
        ct, pseudo = read_volume(case / "ct.nii.gz"), read_volume(case / "pseudo.nii.gz")
        assert pseudo.same_grid(ct), name
        assert pseudo.array.dtype == np.uint8 and pseudo.array.max() < 6
        with h5py.File(case / "pseudo_probabilities.h5") as f:
            probs = f["probabilities"][...].astype(np.float32)
            assert probs.shape == ct.shape + (6,) and f.attrs["strategy"]
        seen = probs.sum(-1) > 0
        assert seen.mean() > 0.5 and np.allclose(probs.sum(-1)[seen], 1.0, atol=0.02)
        with h5py.File(case / "planar_probabilities.h5") as f:
            assert sorted(f) == ["axial", "coronal", "sagittal"]

    # a second run reuses the trained models and replaces the pseudo-masks in place
    before = (dataset / "planar-runs" / "axial" / "checkpoint_last.pt").stat().st_mtime_ns
    assert main(args + ["--strategy", "mean"]) == 0
    assert (dataset / "planar-runs" / "axial" / "checkpoint_last.pt").stat().st_mtime_ns == before
    with h5py.File(dataset / "phantom_000" / "pseudo_probabilities.h5") as f:
        assert f.attrs["strategy"] == "mean"
    with pytest.raises(SystemExit) as refused:  # the choices come from the fusion registry
        main(args + ["--strategy", "best_guess"])
    assert refused.value.code == 2 and "invalid choice: 'best_guess'" in capsys.readouterr().err
