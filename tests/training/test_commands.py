"""``lunet train`` / ``lunet cv`` from the command line, a kill by a signal, and DDP on 2 CPU processes."""

import csv
import logging
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from lunet.cli import main
from lunet.config import TrainConfig
from lunet.evaluation.interval_calibration import CALIBRATION_FILE, PASSES_FILE, read_calibration, read_passes


def flags(data, out, cache, *extra):
    return [
        "--data",
        str(data),
        "--out",
        str(out),
        "--cache",
        str(cache),
        "--size",
        "64",
        "--batch-size",
        "4",
        "--n-folds",
        "3",
        "--no-progress",
        "--accelerator",
        "cpu",
        "--patience",
        "0",
        *map(str, extra),
    ]


def rows(run):
    with open(run / "metrics.csv") as handle:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(handle)]


def weights(run):
    return torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["state_dict"]


def assert_same_run(a, b):
    assert rows(a) == rows(b)
    wa, wb = weights(a), weights(b)
    for key in wa:
        torch.testing.assert_close(wb[key], wa[key], rtol=1e-5, atol=1e-6)


def test_train_then_resume_with_more_epochs(phantom_data, tmp_path):
    run = tmp_path / "run"
    assert (
        main(["train", *flags(phantom_data, run, tmp_path / "cache", "--epochs", 1, "--override", "base=16")])
        == 2
    )
    assert main(["train", *flags(phantom_data, run, tmp_path / "cache", "--epochs", 1, "--lr", "1e-4")]) == 0
    assert len(rows(run)) == 1 and (run / "predictions").is_dir()
    assert (
        main(["train", *flags(phantom_data, run, tmp_path / "cache", "--epochs", 1)]) == 2
    )  # exists: needs --resume
    assert main(["train", "--out", str(run), "--resume", "--epochs", "2", "--no-progress"]) == 0
    config = TrainConfig.from_json(run / "config.json")
    assert (config.trainer.epochs, config.optim.lr, config.data.size) == (2, 1e-4, 64) and len(rows(run)) == 2


def test_cv_trains_every_fold_and_gathers_out_of_fold_predictions(phantom_data, tmp_path, caplog):
    run = tmp_path / "cv"
    caplog.set_level(logging.INFO, logger="lunet.inference.calibrate")
    assert main(["cv", *flags(phantom_data, run, tmp_path / "cache", "--epochs", 1, "--max-steps", 1)]) == 0
    patients = sorted(p.name for p in (run / "predictions").iterdir())
    assert patients == [f"patient{i:04d}" for i in range(1, 7)]
    assert all((run / f"fold_{k}" / "model.safetensors").is_file() for k in (1, 2, 3))
    # 2 validation patients per fold: each fold says why it has no intervals (90 % needs 9); none calibrated
    for k in (1, 2, 3):
        assert f"fold_{k}: no EF/EDV/ESV intervals: 90 % intervals need at least 9" in caplog.text
        assert not (run / f"fold_{k}" / CALIBRATION_FILE).exists()
    assert TrainConfig.from_json(run / "config.json").model.name == "unet1"
    # after gathering, the ensemble's CV+ calibration: 6 out-of-fold patients are too few for 90 % (9)
    assert "no ensemble (CV+) intervals: CV+ at level 0.9 needs at least 9" in caplog.text
    assert not (run / CALIBRATION_FILE).exists()
    caplog.clear()
    assert main(["cv", *flags(phantom_data, run, tmp_path / "cache"), "--gather"]) == 0
    assert "no ensemble (CV+) intervals" in caplog.text  # --gather ends with it too
    caplog.clear()
    assert main(["cv", *flags(phantom_data, run, tmp_path / "cache"), "--gather", "--no-calibrate"]) == 0
    assert "CV+" not in caplog.text


def _train_subprocess(args, kill_signal, run):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lunet", "train", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # wait for the first resumable state (last.ckpt, written at each epoch's end), however loaded the machine:
    # a fixed 2-minute wait once killed a run that had not finished its first epoch yet on busy cores
    last = run / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 900
    while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if not last.exists():
        proc.kill()
        pytest.fail(f"no checkpoint after 900 s (exit code {proc.poll()}): the machine is too loaded")
    proc.send_signal(kill_signal)
    proc.wait(timeout=60)
    return proc.returncode


@pytest.mark.parametrize(
    "kill_signal",
    [signal.SIGKILL, pytest.param(signal.SIGTERM, marks=pytest.mark.slow)],
    ids=["KILL", "TERM"],
)
def test_killed_training_resumes_to_the_uninterrupted_result(kill_signal, phantom_data, tmp_path):
    common = ("--epochs", 6, "--deterministic")
    reference = tmp_path / "reference"
    assert main(["train", *flags(phantom_data, reference, tmp_path / "cache", *common)]) == 0
    run = tmp_path / "killed"
    code = _train_subprocess(flags(phantom_data, run, tmp_path / "cache", *common), kill_signal, run)
    assert code == (-9 if kill_signal == signal.SIGKILL else 143)
    # training.json is written once training has ended (model.safetensors already at the first best epoch)
    assert not (run / "training.json").exists(), "the run finished before the signal; make it longer"
    assert main(["train", *flags(phantom_data, run, tmp_path / "cache", *common), "--resume"]) == 0
    assert_same_run(reference, run)


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_matches_one_process(phantom_data, tmp_path):
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    assert main(["train", *flags(phantom_data, single, tmp_path / "cache", "--epochs", 2)]) == 0
    args = flags(phantom_data, ddp, tmp_path / "cache", "--epochs", 2, "--devices", 2, "--strategy", "ddp")
    proc = subprocess.run(
        [sys.executable, "-m", "lunet", "train", *args], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    a, b = rows(single), rows(ddp)
    assert [r["step"] for r in a] == [r["step"] for r in b]  # same global batch → same number of steps
    # BatchNorm statistics are per process (2 images instead of 4), hence the tolerance
    for ra, rb in zip(a, b):
        assert float(rb["train_loss"]) == pytest.approx(float(ra["train_loss"]), abs=0.03)
        assert float(rb["val_loss"]) == pytest.approx(float(ra["val_loss"]), abs=0.01)
    assert (ddp / "model.safetensors").is_file() and (ddp / "predictions").is_dir()


def test_flags_are_generated_from_the_config_and_keep_their_old_names(tmp_path, capsys):
    from lunet.cli import build_parser
    from lunet.config import flag_fields
    from lunet.training.commands import build_config

    parser = build_parser()
    args = parser.parse_args(
        ["train", "--out", str(tmp_path / "run"), "--data", str(tmp_path), "--model", "runet",
         "--margin", "0.15", "--augment", "--no-progress", "--lr", "1e-4", "--override", "dil=3",
         "--batch-size", "4", "--fold", "2", "--devices", "auto", "--dice-classes", "1,2,3",
         "--augment-shift", "0.1", "--no-deterministic"]
    )  # fmt: skip
    config = build_config(args)
    assert config.model.name == "runet" and config.model.overrides == {"dil": 3, "box_margin": 0.15}
    assert config.augment.enabled and config.augment.shift == 0.1 and not config.trainer.progress_bar
    assert (config.optim.lr, config.data.batch_size, config.data.fold, config.trainer.devices) == (
        1e-4,
        4,
        2,
        "auto",
    )
    assert config.loss.dice_classes == (1, 2, 3) and not config.trainer.deterministic
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--help"])
    text = capsys.readouterr().out
    for leaf in flag_fields():
        if leaf.flag != "model_overrides":
            assert leaf.option in text


def test_a_wrong_model_fails_before_writing_anything(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--data", str(tmp_path), "--model", "lunnet"]) == 2
    assert "unknown model 'lunnet'" in capsys.readouterr().err and not out.exists()
    assert main(["train", "--out", str(out), "--data", str(tmp_path / "nothing")]) == 2
    assert "dataset folder not found" in capsys.readouterr().err and not out.exists()


def test_train_calibrates_its_intervals_when_the_fold_has_enough_validation_patients(phantom_data, tmp_path):
    """6 patients in 3 folds: 2 validation patients, enough for 60 % (⌈0.6 / 0.4⌉ = 2): the run ends with its
    calibration.json (the fold's 2 validation patients × 7 passes) and ``lunet evaluate`` fills clinical.csv's
    intervals, each containing its own point estimate."""
    from lunet.data.folds import read_fold_lists
    from lunet.evaluation.schema import ClinicalRecord, read_records

    run = tmp_path / "run"  # 40 epochs of 8 frames: enough for an LV in every frame (1 epoch gives none)
    common = ("--epochs", 40, "--lr", 3e-3, "--batch-size", 2, "--deterministic", "--calibration-level", 0.6)
    assert main(["train", *flags(phantom_data, run, tmp_path / "cache", *common)]) == 0
    calibration = read_calibration(run)
    assert calibration is not None and calibration.level == 0.6 and calibration.n_patients == 2
    assert len(calibration.passes) == 7 and calibration.passes[0] == "identity"
    fold = read_fold_lists(run / "folds")[0]
    assert sorted(read_passes(run / PASSES_FILE, "validation")) == sorted(fold.val)
    assert sorted(read_passes(run / PASSES_FILE, "test")) == sorted(fold.test)
    assert main(["evaluate", str(run)]) == 0
    records = read_records(run / "evaluation" / "clinical.csv", ClinicalRecord)
    assert sorted(r.patient for r in records) == sorted(fold.test)
    for r in records:
        # the EF interval is clipped to [0, 100]; a barely trained model's EF may lie outside
        assert r.ef_lo_percent <= max(r.ef_percent, 0.0) and min(r.ef_percent, 100.0) <= r.ef_hi_percent
        assert r.ef_hi_percent > r.ef_lo_percent
        assert r.edv_lo_ml <= r.edv_ml <= r.edv_hi_ml and r.esv_lo_ml <= r.esv_ml <= r.esv_hi_ml


def test_no_calibrate_and_too_few_validation_patients_train_without_intervals(phantom_data, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="lunet.inference.calibrate")
    skipped = tmp_path / "skipped"
    common = ("--epochs", 1, "--max-steps", 1)
    args = flags(phantom_data, skipped, tmp_path / "cache", *common, "--calibration-level", 0.6)
    assert main(["train", *args, "--no-calibrate"]) == 0
    assert (skipped / "predictions").is_dir() and not (skipped / CALIBRATION_FILE).exists()
    assert "EF/EDV/ESV intervals" not in caplog.text
    few = tmp_path / "few"  # the default 90 % needs 9 validation patients; the fold has 2
    assert main(["train", *flags(phantom_data, few, tmp_path / "cache", *common)]) == 0
    assert (few / "predictions").is_dir() and (few / "model.safetensors").is_file()
    assert not (few / CALIBRATION_FILE).exists() and not (few / PASSES_FILE).exists()
    lines = [r.getMessage() for r in caplog.records if "EF/EDV/ESV intervals" in r.getMessage()]
    assert lines == [
        f"{few}: no EF/EDV/ESV intervals: 90 % intervals need at least 9 validation patients, fold 1 has 2; "
        f"`lunet calibrate {few} --level 0.65` works with 2"
    ]


def test_bad_calibration_level_fails_before_training(phantom_data, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *flags(phantom_data, out, tmp_path / "cache", "--calibration-level", 90)]) == 2
    assert "--calibration-level: interval level must lie in (0, 1)" in capsys.readouterr().err
    assert not (out / "model.safetensors").exists()


def test_cv_calibrates_each_fold_after_training_and_done_folds_missing_it(phantom_data, tmp_path):
    """A fold done already (weights + predictions) is not trained again; the hook still runs for it when it
    has no calibration.json, and not when it has one."""
    from lunet.training.cv import cross_validate

    run = tmp_path / "cv"
    for k in (1, 2):
        (run / f"fold_{k}" / "predictions").mkdir(parents=True)
        (run / f"fold_{k}" / "model.safetensors").write_bytes(b"")
    (run / "fold_2" / CALIBRATION_FILE).write_text("{}")
    config = TrainConfig.create(
        model="unet1", data=str(phantom_data), cache=str(tmp_path / "cache"), n_folds=3
    )
    calls = []
    cross_validate(config, run, "1-2", gather=False, after_fold=calls.append)
    assert calls == [run / "fold_1"]
