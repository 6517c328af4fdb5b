"""EF/EDV/ESV intervals in ``clinical.csv``: from the run's calibration.json and its test patients' passes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from eval_helpers import lv_labels, write_nifti

from lunet.evaluation.evaluate import evaluate_run
from lunet.evaluation.interval_calibration import (
    PASSES_FILE,
    IntervalCalibration,
    PatientPasses,
    write_calibration,
    write_passes,
)
from lunet.evaluation.intervals import ConformalCalibration
from lunet.evaluation.schema import ClinicalRecord, columns, read_records

SPACING = (0.4, 0.3)
SHAPE = (128, 112)
SIZES = {"2CH_ED": (30.0, 14.0), "2CH_ES": (26.0, 11.0), "4CH_ED": (30.0, 15.0), "4CH_ES": (26.0, 12.0)}
PATIENTS = ("patient0001", "patient0002", "patient0003")
INTERVALS = ("ef_lo_percent", "ef_hi_percent", "edv_lo_ml", "edv_hi_ml", "esv_lo_ml", "esv_hi_ml")


def make_run(root: Path, camus_dir: Path) -> Path:
    run = root / "run"
    for pid in PATIENTS:
        for key, (a, b) in SIZES.items():
            write_nifti(
                run / "predictions" / pid / f"{pid}_{key}.nii.gz", lv_labels(SHAPE, SPACING, a, b), SPACING
            )
    (run / "config.json").write_text(json.dumps({"model": "unet1", "data": str(camus_dir), "margin": 0.05}))
    return run


def calibration(score: str, quantile: float) -> IntervalCalibration:
    one = ConformalCalibration(0.9, score, quantile, 20, 0, 0.25 if score == "normalised" else 0.0)
    indices = {"ef_percent": one, "edv_ml": one, "esv_ml": one}
    return IntervalCalibration(0.9, score, ("identity", "zoom0.95"), indices, n_patients=20)


def test_clinical_csv_has_the_interval_columns() -> None:
    names = columns(ClinicalRecord)
    assert set(INTERVALS) <= set(names)
    assert names.index("ef_lo_percent") == names.index("ef_percent") + 1


def test_run_without_calibration_keeps_nan_intervals(camus_dir: Path, tmp_path: Path) -> None:
    run = make_run(tmp_path, camus_dir)
    evaluate_run(run)
    records = read_records(run / "evaluation" / "clinical.csv", ClinicalRecord)
    assert len(records) == 3 and all(math.isnan(getattr(r, c)) for r in records for c in INTERVALS)


def test_absolute_calibration_gives_point_plus_minus_quantile(camus_dir: Path, tmp_path: Path) -> None:
    run = make_run(tmp_path, camus_dir)
    write_calibration(run, calibration("absolute", 3.0))
    evaluate_run(run)
    for r in read_records(run / "evaluation" / "clinical.csv", ClinicalRecord):
        assert (r.ef_lo_percent, r.ef_hi_percent) == pytest.approx((r.ef_percent - 3, r.ef_percent + 3))
        assert (r.edv_lo_ml, r.edv_hi_ml) == pytest.approx((r.edv_ml - 3, r.edv_ml + 3))
        assert (r.esv_lo_ml, r.esv_hi_ml) == pytest.approx((r.esv_ml - 3, r.esv_ml + 3))


def test_normalised_calibration_uses_each_test_patients_spread(camus_dir: Path, tmp_path: Path) -> None:
    """patient0001's passes have EF SD 2, patient0002's SD 4, patient0003 has none (NaN interval)."""
    run = make_run(tmp_path, camus_dir)
    write_calibration(run, calibration("normalised", 1.5))
    rows = []
    for pid, sd in (("patient0001", 2.0), ("patient0002", 4.0)):
        values = np.array([[10.0, 5.0, 50.0 - sd / np.sqrt(2)], [10.0, 5.0, 50.0 + sd / np.sqrt(2)]])
        rows.append(("test", PatientPasses(pid, values, ["model0:identity", "model0:zoom0.95"])))
    rows.append(("validation", PatientPasses("patient0003", np.ones((2, 3)), ["a", "b"])))
    write_passes(run / PASSES_FILE, rows)
    evaluate_run(run)
    records = {r.patient: r for r in read_records(run / "evaluation" / "clinical.csv", ClinicalRecord)}
    for pid, sd in (("patient0001", 2.0), ("patient0002", 4.0)):
        r = records[pid]
        assert r.ef_hi_percent - r.ef_lo_percent == pytest.approx(2 * 1.5 * sd)
        assert r.ef_lo_percent < r.ef_percent < r.ef_hi_percent
    assert math.isnan(records["patient0003"].ef_lo_percent)  # a validation patient's passes are not used
