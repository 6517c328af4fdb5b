"""``bench_accuracy --from-runs``: a finished run is reused only when trained with the same settings."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import pytest

from bench_accuracy import model_config, reused_runs


def _args(**overrides: object) -> argparse.Namespace:
    values = dict(models=["unet1", "runet"], fold=1, n_folds=5, seed=0, size=64, epochs=3, batch=8, lr=1e-3,
                  device="cpu", from_runs=[], folds_dir=None)  # fmt: skip
    values.update(overrides)
    return argparse.Namespace(**values)


def _finished_run(base: Path, model: str, args: argparse.Namespace, epoch_seconds: list[float]) -> Path:
    run = base / "runs" / model
    (run / "folds").mkdir(parents=True)
    model_config(model, base / "phantom", base / "cache", args).to_json(run / "config.json")
    (run / "training.json").write_text("{}")
    with open(run / "metrics.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "seconds"])
        writer.writerows([i + 1, s] for i, s in enumerate(epoch_seconds))
    return run


def test_same_settings_link_the_run_and_sum_its_epoch_seconds(tmp_path: Path) -> None:
    other = tmp_path / "other"
    run = _finished_run(other, "runet", _args(), [10.0, 12.5, 7.5])
    out = tmp_path / "mine" / "runs"
    args = _args(from_runs=[other])
    seconds = reused_runs(tmp_path / "mine" / "phantom", tmp_path / "mine" / "cache", out, args)
    assert seconds == {"runet": pytest.approx(30.0)}
    assert (out / "runet").resolve() == run.resolve()
    assert not (out / "unet1").exists()  # not in the other run: trained here


def test_other_settings_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "other"
    _finished_run(other, "runet", _args(epochs=5), [1.0])
    with pytest.raises(SystemExit, match="other settings"):
        reused_runs(tmp_path / "p", tmp_path / "c", tmp_path / "runs", _args(from_runs=[other]))


def test_other_fold_lists_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "other"
    folds = tmp_path / "folds"
    folds.mkdir()
    (folds / "subGroup1_testing.txt").write_text("patient0003\n")
    run = _finished_run(other, "runet", _args(folds_dir=folds), [1.0])
    (run / "folds" / "subGroup1_testing.txt").write_text("patient0004\n")
    with pytest.raises(SystemExit, match="other settings or folds"):
        reused_runs(
            tmp_path / "p", tmp_path / "c", tmp_path / "runs", _args(from_runs=[other], folds_dir=folds)
        )
