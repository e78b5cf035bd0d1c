"""The run contract (pointseg.runs), the predictor registry and the pipeline registry."""

from __future__ import annotations

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch

from pointseg.cli import main
from pointseg.errors import InputError
from pointseg.predict import PREDICTORS, load_model, predict_file
from pointseg.imaging.preprocess import PreprocessConfig
from pointseg.runs import (CHECKPOINT_NAME, CONFIG_NAME, SPLIT_NAME, RunInfo, find_runs, load_checkpoint,
                           read_run_info, run_info_from, save_checkpoint, write_run_files)
from pointseg.io.volume import Volume, read_volume, write_nifti
from pointseg.train.config import PlanarConfig, make_config
from pointseg.train.pipelines import PIPELINES
from pointseg.train.supervised import SUPERVISED_LOSSES, SupervisedConfig, make_supervised_config


def test_configs_survive_json_with_their_types():
    config = make_config("tiny", axis="coronal", seed=7)
    back = PlanarConfig.from_dict(json.loads(config.to_json()))
    assert back == config
    assert isinstance(back.preprocess, PreprocessConfig) and back.preprocess.size == (64, 64)
    supervised = make_supervised_config("tiny", "labels", loss="ce")
    again = SupervisedConfig.from_dict(json.loads(json.dumps(supervised.to_dict())))
    assert again == supervised and again.target == "labels"
    # keys written by another version are ignored, not fatal
    assert PlanarConfig.from_dict({**config.to_dict(), "from_the_future": 1}) == config


def test_run_info_says_what_a_run_is():
    assert make_config("tiny", axis="axial").run_info() == RunInfo("weak_planar", "slices", "lumbar", "clicks", "axial")
    info = make_supervised_config("tiny", "pseudo").run_info()
    assert (info.pipeline, info.target, info.title) == ("fcn8", "pseudo", "fcn8 on pseudo-masks")
    assert RunInfo("weak_planar", "slices", "lumbar", "clicks", "axial").title == "weak_planar (axial) on clicks"
    with pytest.raises(ValueError, match="unknown run target"):
        RunInfo("fcn8", "slices", "lumbar", "everything")
    # run folders written before RunInfo existed are recognised from their config
    assert run_info_from({"config": {"target": "labels", "axis": "sagittal"}}).pipeline == "fcn8"
    assert run_info_from({"config": {"axis": "coronal", "label_set": "lumbar6"}}) == RunInfo(
        "weak_planar", "slices", "lumbar6", "clicks", "coronal")


class _Unsafe:
    """Not a tensor, number, string or container: ``weights_only`` loading must refuse it."""


def test_prediction_loads_checkpoints_weights_only(tmp_path):
    save_checkpoint(tmp_path, {"model": {}, "config": {}, "payload": _Unsafe()})
    with pytest.raises(InputError, match="cannot read checkpoint"):
        load_checkpoint(tmp_path)
    with pytest.raises(TypeError):  # there is no path that unpickles code any more
        load_checkpoint(tmp_path, weights_only=False)
    # a checkpoint of an earlier version holding torch.__version__ itself still loads
    save_checkpoint(tmp_path, {"model": {}, "config": {}, "torch": torch.__version__})
    assert load_checkpoint(tmp_path)["torch"] == str(torch.__version__)


class _ConstantPredictor:
    """A predictor of another kind (as a volumetric pipeline would register one): labels = the config's value."""

    def __init__(self, value, label_set):
        self.value, self.label_set = value, label_set

    @classmethod
    def from_checkpoint(cls, checkpoint, device="cpu"):
        from pointseg.labels import get_label_set

        return cls(int(checkpoint["model"]["value"]), get_label_set(checkpoint["config"]["label_set"]))

    has_probabilities = True

    def predict(self, ct, device="cpu", batch_size=8, show_progress=False, probabilities=None):
        from pointseg.predict import Prediction

        if probabilities is not None:
            probs = probabilities(ct.shape + (self.label_set.num_classes,))
            probs[..., self.value] = 1
        return Prediction({"labels": np.full(ct.shape, self.value, np.uint8)})


def test_predict_picks_the_predictor_the_checkpoint_names(tmp_path, monkeypatch):
    monkeypatch.setitem(PREDICTORS, "constant", _ConstantPredictor)
    run = tmp_path / "run"
    info = RunInfo("unet3d", "constant", "lumbar", "labels")
    write_run_files(run, info, {"label_set": "lumbar"}, seed=0, dataset=None, split={"train": [], "val": []})
    save_checkpoint(run, {"model": {"value": torch.tensor(3)}, "config": {"label_set": "lumbar"},
                          "run": info.to_dict()})
    assert find_runs([tmp_path]) == [run] and read_run_info(run) == info
    assert {p.name for p in run.iterdir()} == {CHECKPOINT_NAME, CONFIG_NAME, SPLIT_NAME}
    assert isinstance(load_model(run), _ConstantPredictor)
    ct = tmp_path / "ct.nii.gz"
    write_nifti(Volume(np.zeros((4, 5, 6), np.int16), np.diag([2.0, 2.0, 3.0, 1.0])), ct, dtype=np.int16)
    out = predict_file(run, ct, tmp_path / "pred.nii.gz", tmp_path / "p.h5", device="cpu", show_progress=False)
    assert np.all(read_volume(out).array == 3)
    with h5py.File(tmp_path / "p.h5") as f:  # the probabilities the predictor handed over, with the class names
        assert f["probabilities"].shape == (4, 5, 6, 6) and np.all(f["probabilities"][..., 3] == 1)
        assert list(f.attrs["classes"])[3] == "L3"
    # a predictor nobody registered is a clear error naming the known ones
    monkeypatch.delitem(PREDICTORS, "constant")
    with pytest.raises(InputError, match="unknown predictor 'constant'.*slices"):
        load_model(run)


def test_train_help_lists_the_registered_pipelines_and_shows_the_chosen_ones_options(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for name, pipeline in PIPELINES.items():
        assert name in text and pipeline.predictor in PREDICTORS
    assert "fcn8 options" in text and "unet3d options" not in text and "--sampling" not in text
    with pytest.raises(SystemExit):
        main(["train", "--pipeline", "unet3d", "--help"])
    text = capsys.readouterr().out
    assert "unet3d options" in text and "--sampling" in text and "fcn8 options" not in text
    assert "(default: bones)" in text.replace("\n", " ").replace("  ", " ")  # --labels default of unet3d


def test_unknown_pipeline_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["train", str(tmp_path), "--pipeline", "nope", "--target", "labels", "--out", str(tmp_path / "r")])
    assert stop.value.code == 2 and "nope" in capsys.readouterr().err


def test_fcn8_options_name_the_registered_losses():
    assert set(PIPELINES["fcn8"].losses) == set(SUPERVISED_LOSSES)


def test_the_command_line_imports_no_torch():
    code = ("import sys, pointseg.cli; pointseg.cli.build_parser(); "
            "print(sorted(m for m in ('torch', 'monai') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, encoding="utf-8", timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
