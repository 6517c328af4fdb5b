"""The report's clinical section: the Simpson convention; Table III's EF agreement with its bootstrap CIs."""

from __future__ import annotations

import math
import re


def test_clinical_section_states_convention_and_ef_intervals(fake_report):
    text = fake_report.read_text(encoding="utf-8")
    clinical = text[text.index('<h2 id="clinical">') : text.index('<h2 id="distances">')]
    assert "Simpson convention: geometric" in clinical  # synthetic data: geometric by default
    assert "95 % bootstrap confidence intervals of corr and MAE: Table III" in clinical
    table3 = text[text.index('id="table3"') :]
    table3 = table3[: table3.index("</table>")]
    # run A was evaluated by lunet.evaluation: an interval wherever its 3 patients define one
    row = re.search(r"<tr><td>unet1</td><td>unet1</td><td>cfg</td><td>3</td>(.*?)</tr>", table3)
    assert row and re.search(r"<td>\d+\.\d+ \[\d+\.\d+, \d+\.\d+\]</td>", row.group(1))


def test_without_calibration_the_caption_says_there_are_no_interval_bars(fake_report):
    text = fake_report.read_text(encoding="utf-8")
    clinical = text[text.index('<h2 id="clinical">') : text.index('<h2 id="distances">')]
    assert "No interval bars: no run has EF/EDV/ESV intervals" in clinical
    assert "split-conformal" not in clinical


def _calibrated(run_dir, level):
    """An absolute-score calibration.json at ``level`` (±3 on every index), then the run re-evaluated."""
    from lunet.evaluation.evaluate import evaluate_run
    from lunet.evaluation.interval_calibration import IntervalCalibration, write_calibration
    from lunet.evaluation.intervals import ConformalCalibration

    one = ConformalCalibration(level, "absolute", 3.0, 20, 0, 0.0)
    indices = {"ef_percent": one, "edv_ml": one, "esv_ml": one}
    write_calibration(run_dir, IntervalCalibration(level, "absolute", ("identity",), indices, n_patients=20))
    evaluate_run(run_dir)
    return run_dir


def test_the_caption_prints_the_calibration_level_of_the_intervals(fake_setup, tmp_path):
    import shutil

    from lunet.evaluation.schema import ClinicalRecord, read_records
    from lunet.report.html import write_report

    run = tmp_path / "run_lunet"
    shutil.copytree(fake_setup["run_b"], run)
    _calibrated(run, 0.8)
    records = read_records(run / "evaluation" / "clinical.csv", ClinicalRecord)
    assert any(math.isfinite(r.ef_lo_percent) for r in records)
    out = write_report([run], tmp_path / "report.html", data_dir=tmp_path / "no_images")
    text = out.read_text(encoding="utf-8")
    clinical = text[text.index('<h2 id="clinical">') : text.index('<h2 id="distances">')]
    assert "Vertical bars: each patient&#x27;s split-conformal 80 % interval (`lunet calibrate`)" in clinical
    assert "90 %" not in clinical


def test_interval_caption_names_each_level_when_they_differ():
    from lunet.report.html import interval_caption

    assert "split-conformal 87.5 % interval (" in interval_caption({"a": 0.875, "b": 0.875})
    mixed = interval_caption({"unet1": 0.9, "lunet": 0.8, "old": None})
    assert "at its run's calibration level (unet1: 90 %; lunet: 80 %; old: not found)" in mixed
    assert interval_caption({}).startswith("No interval bars")


def test_a_gathered_cross_validation_gives_its_folds_common_level(monkeypatch, tmp_path):
    """``run_intervals`` of a gathered ``lunet cv`` run: per patient the calibration of its fold."""
    from types import SimpleNamespace

    import lunet.evaluation.interval_calibration as calibration
    from lunet.report.html import _interval_level

    folds = {"patient0001": SimpleNamespace(level=0.95), "patient0002": SimpleNamespace(level=0.95)}
    monkeypatch.setattr(calibration, "run_intervals", lambda folder: (folds, {}))
    assert _interval_level(tmp_path) == 0.95
    folds["patient0002"] = SimpleNamespace(level=0.8)  # one clinical.csv holds one level: none known
    assert _interval_level(tmp_path) is None
    monkeypatch.setattr(calibration, "run_intervals", lambda folder: None)
    assert _interval_level(tmp_path) is None
