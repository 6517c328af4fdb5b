"""``lunet evaluate-folder --intervals DIR``: clinical.csv's intervals from lunet predict's patient JSONs.

The predict-like output folder holds ``masks/patientXXXX_{2CH,4CH}_{ED,ES}.nii.gz`` (as ``lunet predict``
writes them, on the reference grid) and ``patients/<patient_id>.json`` with known intervals.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pytest
from eval_helpers import SIZES, lv_labels, write_nifti

from lunet.cli import main
from lunet.evaluation.clinical import SimpsonOptions, patient_volumes
from lunet.evaluation.evaluate import EvaluationError, evaluate_folder
from lunet.evaluation.predicted_intervals import PredictedIntervalsError, read_predicted_intervals
from lunet.evaluation.schema import ClinicalRecord, read_records

SPACING = (0.4, 0.3)  # of the camus_dir fixture
SHAPE = (128, 112)
PATIENTS = ("patient0001", "patient0002", "patient0003")
#: Known intervals of patient0001 and patient0002 (patient0003 has no JSON).
KNOWN = {
    "patient0001": {"ef_interval_percent": [31.5, 44.25], "edv_interval_ml": [10.0, 16.5],
                    "esv_interval_ml": [5.0, 11.0]},
    "patient0002": {"ef_interval_percent": [20.0, 60.0], "edv_interval_ml": [0.0, 30.0],
                    "esv_interval_ml": [1.0, 2.0]},
}  # fmt: skip
COLUMNS = {
    "ef_interval_percent": ("ef_lo_percent", "ef_hi_percent"),
    "edv_interval_ml": ("edv_lo_ml", "edv_hi_ml"),
    "esv_interval_ml": ("esv_lo_ml", "esv_hi_ml"),
}


def point(pid: str) -> dict[str, float]:
    """EDV/ESV/EF of a patient's predicted masks (those of the references), as predict computes them."""
    masks = {
        tuple(key.split("_")): (lv_labels(SHAPE, SPACING, a, b) == 1, SPACING)
        for key, (a, b) in SIZES.items()
    }
    return patient_volumes(masks, SimpsonOptions.for_convention("geometric"))  # type: ignore[arg-type]


def patient_json(pid: str, intervals: dict, level: float | None = 0.9, **extra: object) -> dict:
    return {
        "patient_id": pid, **point(pid), "method": "Simpson biplane", "ef_convention": "geometric",
        **intervals, "interval_level": level, "interval_score": "absolute", "interval_passes": 1,
        "interval_flags": [], **extra,
    }  # fmt: skip


def predict_output(root: Path) -> Path:
    """A lunet predict output folder: masks of the three patients, JSONs of the first two."""
    out = root / "predicted"
    for pid in PATIENTS:
        for key, (a, b) in SIZES.items():
            write_nifti(out / "masks" / f"{pid}_{key}.nii.gz", lv_labels(SHAPE, SPACING, a, b), SPACING)
    (out / "patients").mkdir()
    for pid, intervals in KNOWN.items():
        (out / "patients" / f"{pid}.json").write_text(json.dumps(patient_json(pid, intervals)))
    # a sequence's patient JSON (EF of detected frames, another level): never read
    sequence = patient_json("patient0001", KNOWN["patient0002"], level=0.8)
    (out / "patients" / "patient0001_sequence.json").write_text(json.dumps(sequence))
    return out


def records(out: Path) -> dict[str, ClinicalRecord]:
    return {r.patient: r for r in read_records(out / "clinical.csv", ClinicalRecord)}


@pytest.mark.parametrize("sub", ["", "patients"])
def test_clinical_csv_intervals_are_those_of_the_patient_jsons(
    camus_dir: Path, tmp_path: Path, sub: str
) -> None:
    predicted = predict_output(tmp_path)
    evaluate_folder(predicted, camus_dir, tmp_path / "eval", intervals_dir=predicted / sub)
    rows = records(tmp_path / "eval")
    assert set(rows) == set(PATIENTS)
    for pid, intervals in KNOWN.items():
        for key, (lo, hi) in COLUMNS.items():
            assert (getattr(rows[pid], lo), getattr(rows[pid], hi)) == tuple(intervals[key])
        assert rows[pid].ef_percent == pytest.approx(point(pid)["ef_percent"])
    assert all(math.isnan(getattr(rows["patient0003"], c)) for pair in COLUMNS.values() for c in pair)


def test_the_level_and_counts_are_read(camus_dir: Path, tmp_path: Path) -> None:
    predicted = predict_output(tmp_path)
    null = patient_json("patient0003", {key: [None, None] for key in COLUMNS}, level=None)
    (predicted / "patients" / "patient0003.json").write_text(json.dumps(null))  # predicted uncalibrated
    read = read_predicted_intervals(predicted)
    assert (read.level, read.files, read.patients_with_intervals) == (0.9, 3, 2)
    assert read.folder == predicted / "patients" and read.ef_convention == "geometric"
    evaluate_folder(predicted, camus_dir, tmp_path / "eval", intervals_dir=read)
    assert math.isnan(records(tmp_path / "eval")["patient0003"].ef_lo_percent)


def test_mixed_levels_are_refused(tmp_path: Path) -> None:
    predicted = predict_output(tmp_path)
    other = patient_json("patient0003", KNOWN["patient0001"], level=0.8)
    (predicted / "patients" / "patient0003.json").write_text(json.dumps(other))
    with pytest.raises(PredictedIntervalsError, match=r"different levels \(80 % \(patient0003.json\), 90 %"):
        read_predicted_intervals(predicted)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a lunet patient JSON"),
        ('{"images": 4}', "no patient_id"),
        (json.dumps({"patient_id": "patient0003", "ef_percent": 50.0}), "no ef_interval_percent"),
        (json.dumps(patient_json("patient0003", {**KNOWN["patient0001"], "edv_interval_ml": [3.0]})),
         r"edv_interval_ml holds \[3.0\], expected \[lo, hi\]"),
        (json.dumps(patient_json("patient0003", KNOWN["patient0001"], level=90)), "interval_level 90"),
        (json.dumps(patient_json("patient0003", KNOWN["patient0001"], level=None)),
         "without an interval_level"),
    ],
)  # fmt: skip
def test_a_json_that_is_not_a_patient_json_is_named(tmp_path: Path, content: str, message: str) -> None:
    predicted = predict_output(tmp_path)
    (predicted / "patients" / "patient0003.json").write_text(content)
    with pytest.raises(PredictedIntervalsError, match=message) as err:
        read_predicted_intervals(predicted)
    assert "patient0003.json" in str(err.value)


def test_a_folder_without_patient_jsons_and_another_convention_are_refused(
    camus_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(PredictedIntervalsError, match=r"no patients/<patient_id>\.json"):
        read_predicted_intervals(tmp_path / "empty")
    predicted = predict_output(tmp_path)
    with pytest.raises(EvaluationError, match="pass --ef-convention geometric"):
        evaluate_folder(predicted, camus_dir, tmp_path / "e", intervals_dir=predicted,
                        simpson=SimpsonOptions.for_convention("camus"))  # fmt: skip


def test_a_json_of_another_prediction_is_said(
    camus_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    predicted = predict_output(tmp_path)
    moved = {**patient_json("patient0002", KNOWN["patient0002"]), "ef_percent": 12.0}
    (predicted / "patients" / "patient0002.json").write_text(json.dumps(moved))
    with caplog.at_level(logging.WARNING, logger="lunet.evaluation.predicted_intervals"):
        evaluate_folder(predicted, camus_dir, tmp_path / "eval", intervals_dir=predicted)
    said = [r.getMessage() for r in caplog.records if "another prediction" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("patient0002: ef_percent 12.0 in the JSON")


def test_cli_evaluate_folder_intervals(
    camus_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    predicted = predict_output(tmp_path)
    out = tmp_path / "e"
    args = ["evaluate-folder", "--pred", str(predicted), "--ref", str(camus_dir), "--out", str(out)]
    assert main([*args, "--intervals", str(predicted)]) == 0
    assert "EF/EDV/ESV intervals (90 %) of 2 of 2 patient JSONs" in capsys.readouterr().out
    assert records(tmp_path / "e")["patient0001"].ef_lo_percent == 31.5
    (predicted / "patients" / "patient0003.json").write_text("[]")
    assert main([*args, "--intervals", str(predicted)]) == 2
    assert "patient0003.json: not a lunet patient JSON" in capsys.readouterr().err
