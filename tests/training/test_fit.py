"""Integration tests of ``lunet.training.fit`` on six phantom patients at 64×64 (a few seconds per run)."""

import csv
import json
import logging

import lightning as L
import numpy as np
import pytest
import torch

from lunet.bundle import load_bundle
from lunet.config import TrainConfig
from lunet.data.camus_io import read_image
from lunet.training.fit import RunFolderError, train
from lunet.training.lightning_logs import route_lightning_logs

FRAMES = ("2CH_ED", "2CH_ES", "4CH_ED", "4CH_ES")


def tiny_config(data, cache, **changes):
    base = TrainConfig.create(
        model="unet1",
        data=str(data),
        cache=str(cache),
        size=64,
        epochs=3,
        batch_size=4,
        n_folds=3,
        deterministic=True,
        progress_bar=False,
        patience=0,
    )
    return base.replace(**changes)


def metric_rows(run):
    with open(run / "metrics.csv") as handle:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(handle)]


def last_weights(run):
    return torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["state_dict"]


class Crash(L.Callback):
    """Raise in the middle of epoch ``epoch`` (0-based), as a killed job would stop."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.current_epoch == self.epoch and batch_idx == 1:
            raise RuntimeError("simulated crash")


@pytest.fixture(scope="module")
def reference_run(phantom_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return train(tiny_config(phantom_data, root / "cache"), root / "ref"), root


def test_run_folder_and_predictions_on_the_original_grid(reference_run, phantom_data):
    run, root = reference_run
    assert (root / "cache" / "images.npy").is_file()  # U-Net1 does not crop: no 2S crop source (#25 §7)
    assert not (root / "cache" / "source_images.npy").exists()
    for name in ("config.json", "version.txt", "metrics.csv", "model.safetensors", "model.json"):
        assert (run / name).is_file(), name
    assert sorted(p.name for p in (run / "folds").iterdir())[0] == "subGroup1_testing.txt"
    assert len(metric_rows(run)) == 3 and TrainConfig.from_json(run / "config.json").data.size == 64
    # the optimiser state only in last.ckpt (plain types: loadable without unpickling code)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.ckpt"]
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert "optimizer_states" in ckpt and ckpt["hyper_parameters"]["config"]["model"]["name"] == "unet1"
    test_ids = (run / "folds" / "subGroup1_testing.txt").read_text().split()
    assert sorted(p.name for p in (run / "predictions").iterdir()) == sorted(test_ids)
    pid = test_ids[0]
    for frame in FRAMES:
        pred, spacing = read_image(run / "predictions" / pid / f"{pid}_{frame}.nii.gz")
        _, ref_spacing = read_image(phantom_data / "database_nifti" / pid / f"{pid}_{frame}.nii.gz")
        assert pred.dtype == np.uint8 and pred.shape == (256, 256) and set(np.unique(pred)) <= {0, 1, 2, 3}
        np.testing.assert_allclose(spacing, ref_spacing, rtol=1e-5)
    model, meta = load_bundle(run)
    assert meta["model"] == "unet1" and meta["size"] == 64
    outcome = json.loads((run / "training.json").read_text())
    assert (outcome["epochs_run"], outcome["epochs_max"], outcome["stop_reason"]) == (3, 3, "max_epochs")
    losses = [float(r["val_loss"]) for r in metric_rows(run)]
    assert meta["epoch"] == outcome["best_epoch"] == 1 + losses.index(min(losses))
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    same = all(torch.equal(value, last[f"model.{key}"]) for key, value in model.state_dict().items())
    assert same == (outcome["best_epoch"] == 3)  # the bundle holds the best epoch's weights
    assert not (run / "predictions" / "boxes.csv").exists() and not (run / "predictions_o1").exists()


def test_same_seed_same_metrics_and_a_finished_run_is_not_overwritten(reference_run, phantom_data):
    run, root = reference_run
    again = train(tiny_config(phantom_data, root / "cache"), root / "again", predict=False)
    assert metric_rows(again) == metric_rows(run)
    with pytest.raises(RunFolderError, match="--resume"):
        train(tiny_config(phantom_data, root / "cache"), run)


def test_resume_after_a_crash_equals_the_uninterrupted_run(reference_run, phantom_data):
    run, root = reference_run
    config = tiny_config(phantom_data, root / "cache")
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config, root / "crashed", callbacks=[Crash(epoch=2)])
    assert len(metric_rows(root / "crashed")) == 2
    train(config, root / "crashed", resume=True, predict=False)
    assert metric_rows(root / "crashed") == metric_rows(run)
    ref, resumed = last_weights(run), last_weights(root / "crashed")
    for key in ref:
        torch.testing.assert_close(resumed[key], ref[key], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model", ["lunet", "unet1-oracle"])
def test_box_models_write_boxes_and_o1(model, phantom_data, tmp_path):
    config = tiny_config(
        phantom_data, tmp_path / "cache", model=model, epochs=1, max_steps=1, deterministic=False
    )
    run = train(config, tmp_path / model)
    assert (tmp_path / "cache" / "source_images.npy").is_file()  # the crop models read the 2S source
    with open(run / "predictions" / "boxes.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8 and set(rows[0]) == {
        "patient",
        "view",
        "instant",
        "x_min",
        "y_min",
        "x_max",
        "y_max",
    }
    assert all(0 <= float(r["x_min"]) < float(r["x_max"]) <= 1 for r in rows)
    assert (run / "predictions_o1").is_dir() == (model == "lunet")
    meta = load_bundle(run)[1]
    assert "margin" not in meta["overrides"]
    margin = 0.15 if model == "lunet" else 0.05  # the robust recipe's m15; the oracle's constructor m5
    assert TrainConfig.from_dict(meta["config"]).model.box_margin == margin
    assert meta["overrides"]["box_margin"] == margin  # the margin lives in the model
    if model == "lunet":  # RUN/predictions (ROI from the cache's 2S source) == `lunet predict` on the files
        from lunet.inference.predict import PredictOptions, predict_paths

        files = sorted(phantom_data.rglob(f"{rows[0]['patient']}_?CH_E?.nii.gz"))
        assert len(files) == 4
        options = PredictOptions(backend="torch", overlay=False, progress=False)
        assert predict_paths(run, files, tmp_path / "predict", options).n_done == 4
        for file in files:
            mine = read_image(tmp_path / "predict" / "masks" / file.name)[0]
            theirs = read_image(run / "predictions" / file.parent.name / file.name)[0]
            np.testing.assert_array_equal(mine, theirs)


def test_lightning_lines_are_printed_once_when_the_root_logger_is_configured(monkeypatch):
    import lightning

    top = logging.getLogger("lightning")
    monkeypatch.setattr(top, "handlers", [lightning._console])  # as after ``import lightning``
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    route_lightning_logs()  # no application handler: Lightning keeps its own, or nothing would print
    assert top.handlers == [lightning._console]
    monkeypatch.setattr(root, "handlers", [Collect()])
    route_lightning_logs()
    assert top.handlers == []
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    gpu = "GPU available: False, used: False (test_fit)"  # a line no Trainer of this process printed
    for message in (
        gpu,
        "💡 Tip: try our cloud",
        gpu,
        "other",
        "`Trainer.fit` stopped: `max_epochs=4` reached.",
    ):
        rank_zero.warning(message)
    assert seen == [gpu, "other"]  # once per fact, no advertising
