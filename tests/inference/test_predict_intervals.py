"""EF/EDV/ESV intervals in ``lunet predict``: from the bundle's calibration.json; null, said once, without."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from inference_helpers import echo_like, make_bundle, split_calibration

from lunet.cli import main
from lunet.data.camus_io import write_image
from lunet.evaluation.interval_calibration import write_calibration
from lunet.inference.patients import PatientAccumulator
from lunet.inference.predict import PredictOptions, predict_paths
from lunet.inference.qc import EF_INTERVAL_WIDE_POINTS, interval_flags

FRAMES = [("2CH", "ED"), ("2CH", "ES"), ("4CH", "ED"), ("4CH", "ES")]
SPACING = (0.3, 0.25)
OPTS = PredictOptions(backend="torch", progress=False, batch_size=4, overlay=False)


calibration = split_calibration


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bundle(tmp_path_factory.mktemp("unet1"), "unet1", filters=(8, 8, 8, 8, 8, 8))


def patient_folder(root: Path) -> Path:
    folder = root / "patient0003"
    for k, (view, instant) in enumerate(FRAMES):
        write_image(folder / f"patient0003_{view}_{instant}.nii.gz", echo_like(80, 64, k), SPACING)
    return folder


def _ellipse(a_mm: float, b_mm: float, scale: float = 1.0) -> np.ndarray:
    rr, cc = np.mgrid[:400, :300]
    r, c = (rr - 200) * SPACING[0], (cc - 150) * SPACING[1]
    return (r / (a_mm * scale)) ** 2 + (c / (b_mm * scale)) ** 2 <= 1.0


AXES = {("2CH", "ED"): (45, 22), ("4CH", "ED"): (44, 24), ("2CH", "ES"): (38, 16), ("4CH", "ES"): (37, 17)}


def test_old_bundle_without_calibration_predicts_with_null_intervals_said_once(
    tmp_path: Path, bundle: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = patient_folder(tmp_path)
    with caplog.at_level(logging.INFO, logger="lunet.inference.interval_setup"):
        result = predict_paths(bundle, [folder], tmp_path / "out", OPTS)
    assert result.n_done == 4 and result.n_failed == 0
    data = json.loads((tmp_path / "out" / "patients" / "patient0003.json").read_text())
    assert data["ef_interval_percent"] == [None, None] and data["edv_interval_ml"] == [None, None]
    assert data["esv_interval_ml"] == [None, None] and data["interval_level"] is None
    assert "calibration.json" in data["interval_note"] and data["interval_flags"] == []
    assert sum("calibration.json" in r.getMessage() for r in caplog.records) == 1


def test_bundle_with_normalised_calibration_runs_its_passes(
    tmp_path: Path, bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bundle carries calibration.json (copied with it): predict runs 7 passes (1 + 6 extra model calls
    per batch) and writes the interval keys; --no-intervals runs one pass."""
    carried = tmp_path / "bundle"
    shutil.copytree(bundle, carried)
    write_calibration(carried, calibration("normalised", 1.5))
    import lunet.inference.tta as tta

    calls = []
    original = tta.pass_labels
    monkeypatch.setattr(tta, "pass_labels", lambda *a, **k: calls.append(a[3].name) or original(*a, **k))
    folder = patient_folder(tmp_path)
    predict_paths(carried, [folder], tmp_path / "out", OPTS)
    data = json.loads((tmp_path / "out" / "patients" / "patient0003.json").read_text())
    assert calls == ["zoom0.95", "zoom1.05", "shift+0.03", "shift-0.03", "gamma0.85", "gamma1.15"]
    assert data["interval_level"] == 0.9 and data["interval_passes"] == 7 and "interval_note" not in data
    ef, (lo, hi) = data["ef_percent"], data["ef_interval_percent"]
    if ef is not None and lo is not None:  # random weights may give a degenerate LV (NaN EF, null interval)
        assert lo <= ef <= hi
    calls.clear()
    code = main(["predict", "--model", str(carried), str(folder), "--out", str(tmp_path / "o2"),
                 "--backend", "torch", "--no-overlay", "--no-progress", "--no-intervals"])  # fmt: skip
    assert code == 0 and calls == []
    data = json.loads((tmp_path / "o2" / "patients" / "patient0003.json").read_text())
    assert data["ef_interval_percent"] == [None, None] and "--no-intervals" in data["interval_note"]


def test_ensemble_calibration_is_not_applied_to_one_model(tmp_path: Path, bundle: Path) -> None:
    carried = tmp_path / "bundle"
    shutil.copytree(bundle, carried)
    write_calibration(carried, calibration("normalised", 1.5, models=3))
    predict_paths(carried, [patient_folder(tmp_path)], tmp_path / "out", OPTS)
    data = json.loads((tmp_path / "out" / "patients" / "patient0003.json").read_text())
    assert data["ef_interval_percent"] == [None, None] and "ensemble of 3" in data["interval_note"]


def _fill(acc: PatientAccumulator, scales: tuple[float, ...]) -> dict:
    for view, instant in FRAMES:
        a, b = AXES[(view, instant)]
        extra = [_ellipse(a, b, s) for s in scales]
        acc.add("patient0009", view, instant, _ellipse(a, b), SPACING, f"{view}_{instant}", True, extra)
    return json.loads(acc.written[-1].read_text())


def test_accumulator_absolute_interval_is_the_point_plus_minus_the_quantile(tmp_path: Path) -> None:
    data = _fill(PatientAccumulator(tmp_path, calibration=calibration("absolute", 4.0, passes=1)), ())
    assert data["ef_interval_percent"] == pytest.approx([data["ef_percent"] - 4, data["ef_percent"] + 4])
    assert data["edv_interval_ml"] == pytest.approx([data["edv_ml"] - 4, data["edv_ml"] + 4])
    assert data["interval_passes"] == 1 and data["interval_score"] == "absolute"


def test_accumulator_normalised_interval_grows_with_the_passes_spread(tmp_path: Path) -> None:
    """Passes that scale the ED masks only (EF moves) by ±2 % and by ±6 %: the interval brackets the point
    and is about three times wider for the wider spread."""
    cal = calibration("normalised", 2.0, passes=3)
    widths = []
    for k, spread in enumerate((0.02, 0.06)):
        acc = PatientAccumulator(tmp_path / str(k), calibration=cal)
        for view, instant in FRAMES:
            a, b = AXES[(view, instant)]
            scales = (1 - spread, 1 + spread) if instant == "ED" else (1.0, 1.0)
            extra = [_ellipse(a, b, s) for s in scales]
            acc.add("patient0009", view, instant, _ellipse(a, b), SPACING, "x", True, extra)
        data = json.loads(acc.written[-1].read_text())
        lo, hi = data["ef_interval_percent"]
        assert lo < data["ef_percent"] < hi and data["interval_passes"] == 3
        widths.append(hi - lo)
    assert 2.5 < widths[1] / widths[0] < 3.5


def test_wide_ef_interval_is_flagged() -> None:
    assert interval_flags([30.0, 30.0 + EF_INTERVAL_WIDE_POINTS + 0.1]) == ["ef_interval_wide"]
    assert interval_flags([30.0, 30.0 + EF_INTERVAL_WIDE_POINTS]) == []
    assert interval_flags([None, None]) == []


def test_export_says_whether_the_bundle_carries_a_calibration(
    tmp_path: Path, bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    carried = tmp_path / "bundle"
    shutil.copytree(bundle, carried)
    assert main(["export", str(carried), "--format", "onnx"]) == 0
    assert "null EF intervals" in capsys.readouterr().out
    write_calibration(carried, calibration("absolute", 4.0, passes=1))
    assert main(["export", str(carried), "--format", "onnx"]) == 0
    assert "90 % EF/EDV/ESV intervals (absolute score, 1 passes)" in capsys.readouterr().out
    result = predict_paths(carried, [patient_folder(tmp_path)], tmp_path / "out",
                           PredictOptions(backend="onnx", progress=False, overlay=False))  # fmt: skip
    data = json.loads(result.patients[0].read_text())
    assert data["interval_level"] == 0.9 and data["interval_passes"] == 1


def test_a_calibration_from_another_precision_is_said(
    tmp_path: Path, bundle: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Calibrated with INT8, predicted with torch: intervals given, with a note that they may not hold."""
    from dataclasses import replace

    carried = tmp_path / "bundle"
    shutil.copytree(bundle, carried)
    write_calibration(carried, replace(calibration("normalised", 1.5), backend="int8"))
    with caplog.at_level(logging.INFO, logger="lunet.inference.interval_setup"):
        result = predict_paths(carried, [patient_folder(tmp_path)], tmp_path / "out", OPTS)
    data = json.loads(result.patients[0].read_text())
    assert data["interval_level"] == 0.9 and "--backend torch" in data["interval_note"]
    assert sum("calibrated with the int8" in r.getMessage() for r in caplog.records) == 1


def test_a_calibration_of_other_weights_gives_null_intervals(tmp_path: Path, bundle: Path) -> None:
    """calibration.json records the SHA-256 of the weights it calibrated: the same weights get intervals,
    retrained ones (another SHA-256) null intervals and a note saying why."""
    from dataclasses import replace

    from lunet.run_files import weights_sha256

    carried = tmp_path / "bundle"
    shutil.copytree(bundle, carried)
    base = calibration("absolute", 4.0, passes=1)
    write_calibration(carried, replace(base, weights_sha256=weights_sha256(carried)))
    predict_paths(carried, [patient_folder(tmp_path)], tmp_path / "same", OPTS)
    data = json.loads((tmp_path / "same" / "patients" / "patient0003.json").read_text())
    assert data["interval_level"] == 0.9 and "interval_note" not in data
    write_calibration(carried, replace(base, weights_sha256="0" * 64))
    predict_paths(carried, [patient_folder(tmp_path)], tmp_path / "other", OPTS)
    data = json.loads((tmp_path / "other" / "patients" / "patient0003.json").read_text())
    assert (
        data["ef_interval_percent"] == [None, None]
        and "calibrated for other weights" in data["interval_note"]
    )
