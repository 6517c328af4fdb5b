"""``--ef-convention`` on ``lunet volumes`` / ``evaluate-folder`` and in ``predict``'s patient files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from eval_helpers import SIZES, lv_labels

from lunet.cli import main
from lunet.evaluation.clinical import patient_volumes
from lunet.evaluation.simpson import SimpsonOptions
from lunet.inference.patients import PatientAccumulator

SPACING, SHAPE = (0.4, 0.3), (128, 112)


def _masks() -> dict[tuple[str, str], tuple[np.ndarray, tuple[float, float]]]:
    out = {}
    for key, (a, b) in SIZES.items():
        view, instant = key.split("_")
        out[(view, instant)] = (lv_labels(SHAPE, SPACING, a, b) == 1, SPACING)
    return out


def _volumes(argv: list[str], capsys: pytest.CaptureFixture) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_volumes_json_in_each_convention(camus_dir: Path, capsys: pytest.CaptureFixture) -> None:
    camus = _volumes(["volumes", str(camus_dir), "--json", "--ef-convention", "camus"], capsys)
    geometric = _volumes(["volumes", str(camus_dir), "--json", "--ef-convention", "geometric"], capsys)
    for result in (camus, geometric):
        # data_note: SYNTHETIC on the phantom; ef_convention: the Simpson convention used
        assert set(result) == {"patients", "synthetic", "data_note", "ef_convention"}
        assert set(result["patients"]) == {"patient0001", "patient0002", "patient0003"}
        for values in result["patients"].values():
            assert set(values) == {"edv_ml", "esv_ml", "ef_percent"}
    for name, result in (("camus", camus), ("geometric", geometric)):
        expected = patient_volumes(_masks(), SimpsonOptions.for_convention(name))
        assert result["patients"]["patient0002"] == pytest.approx(expected)
    # the shared (ED) disc height raises ESV and lowers EF
    assert camus["patients"]["patient0002"]["esv_ml"] > 1.1 * geometric["patients"]["patient0002"]["esv_ml"]
    assert camus["patients"]["patient0002"]["ef_percent"] < geometric["patients"]["patient0002"]["ef_percent"]
    # default: geometric on the phantom (patient0001 has phantom_truth.json), camus on CAMUS data
    assert _volumes(["volumes", str(camus_dir), "--json"], capsys) == geometric
    (camus_dir / "patient0001" / "phantom_truth.json").unlink()
    default = _volumes(["volumes", str(camus_dir), "--json"], capsys)
    assert default["patients"] == camus["patients"] and default["ef_convention"] == "camus"
    assert camus["ef_convention"] == "camus" and geometric["ef_convention"] == "geometric"


def test_predict_patient_file_in_the_camus_convention(tmp_path: Path) -> None:
    masks = _masks()
    accumulator = PatientAccumulator(tmp_path, "camus")
    paths = [accumulator.add("patient0007", v, i, m, s, f"{v}_{i}", True) for (v, i), (m, s) in masks.items()]
    data = json.loads(paths[-1].read_text())
    assert data["ef_convention"] == "camus"
    expected = patient_volumes(masks, SimpsonOptions.for_convention("camus"))
    assert {k: data[k] for k in expected} == pytest.approx(expected)


def test_table3_states_the_convention_and_the_bootstrap_intervals(camus_dir: Path, tmp_path: Path) -> None:
    from eval_helpers import write_nifti

    from lunet.evaluation.display import agreement_cells
    from lunet.evaluation.evaluate import evaluate_folder

    pred = tmp_path / "pred"
    for k, pid in enumerate(("patient0001", "patient0002", "patient0003")):
        for key, (a, b) in SIZES.items():
            labels = lv_labels(SHAPE, SPACING, a + k, b - k / 2, shift_rows=k)
            write_nifti(pred / pid / f"{pid}_{key}.nii.gz", labels, SPACING)
    tables = evaluate_folder(pred, camus_dir, tmp_path / "out")
    table3 = tables["table3"]
    assert table3["ef_convention"] == "geometric" and "geometric convention" in table3["title"]
    row = next(r for r in table3["rows"] if r["reference"] == "simpson")
    assert len(row["ef_percent"]["corr_ci"]) == 2 and len(row["edv_ml"]["mae_ci"]) == 2
    low, high = row["edv_ml"]["mae_ci"]
    assert (low <= row["edv_ml"]["mae"] <= high) or not np.isfinite(low)  # 3 patients: BCa may be undefined
    saved = json.loads((tmp_path / "out" / "tables.json").read_text())
    assert saved["table3"]["ci"]["method"].startswith("BCa")
    assert "95 % CI" in (tmp_path / "out" / "tables.md").read_text()
    cell = {"corr": 0.7, "bias": 1.0, "sd": 2.0, "mae": 3.0, "corr_ci": [0.5, 0.9], "mae_ci": [2.0, 4.0]}
    assert agreement_cells(cell) == ["0.700 [0.500, 0.900]", "1.0 ± 3.9", "3.0 [2.0, 4.0]"]
    camus = evaluate_folder(
        pred, camus_dir, tmp_path / "camus", simpson=SimpsonOptions.for_convention("camus")
    )
    assert camus["table3"]["ef_convention"] == "camus"
