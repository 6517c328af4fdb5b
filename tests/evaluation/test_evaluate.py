"""End-to-end evaluation on a tiny CAMUS-style folder and a fake run folder."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from eval_helpers import lv_labels, write_nifti

from lunet.boxes import reference_box
from lunet.cli import main
from lunet.evaluation.evaluate import EvaluationError, evaluate_folder, evaluate_models, evaluate_run
from lunet.evaluation.schema import SCHEMA_VERSION, ImageRecord, PatientRecord, read_records

SPACING = (0.4, 0.3)
SHAPE = (128, 112)
SIZES = {"2CH_ED": (30.0, 14.0), "2CH_ES": (26.0, 11.0), "4CH_ED": (30.0, 15.0), "4CH_ES": (26.0, 12.0)}
PATIENTS = ("patient0001", "patient0002", "patient0003")


def write_predictions(folder: Path, shift: int, nested: bool = True, boxes: bool = False) -> None:
    """Reference-like predictions shifted by ``shift`` rows (patient0002 always exact)."""
    lines = ["patient,view,instant,x_min,y_min,x_max,y_max"]
    for pid in PATIENTS:
        for key, (a, b) in SIZES.items():
            labels = lv_labels(SHAPE, SPACING, a, b, shift_rows=0 if pid == "patient0002" else shift)
            name = f"{pid}_{key}.nii.gz"
            write_nifti(folder / pid / name if nested else folder / name, labels, SPACING)
            box = reference_box(lv_labels(SHAPE, SPACING, a, b), 0.05)
            lines.append(",".join([pid, *key.split("_"), *(repr(float(v)) for v in box)]))
    if boxes:
        (folder / "boxes.csv").write_text("\n".join(lines) + "\n")


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_evaluate_run(camus_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    write_predictions(run / "predictions", shift=3, boxes=True)
    write_predictions(run / "predictions_o1", shift=24)
    (run / "config.json").write_text(json.dumps({"model": "lunet", "data": str(camus_dir), "margin": 0.05}))
    tables = evaluate_run(run)
    out = run / "evaluation"
    for name in ("per_image.csv", "per_patient.csv", "clinical.csv", "tables.md", "tables.json"):
        assert (out / name).is_file()
    rows = read_csv(out / "per_image.csv")
    assert len(rows) == 2 * 3 * 4
    columns = ("patient", "view", "instant", "lv_endo_dice", "lv_endo_mad_mm", "lv_endo_hd_mm", "lv_epi_dice")
    columns += ("lv_epi_mad_mm", "lv_epi_hd_mm", "lv_simplicity", "myo_convexity", "box_iou", "bb_out")
    assert set(columns) <= set(rows[0])
    exact = [r for r in rows if r["patient"] == "patient0002" and r["model"] == "lunet-o2"]
    assert all(float(r["lv_endo_dice"]) == 1.0 and float(r["lv_epi_hd_mm"]) == 0.0 for r in exact)
    shifted = [r for r in rows if r["patient"] == "patient0001" and r["model"] == "lunet-o2"]
    assert all(float(r["lv_endo_hd_mm"]) == pytest.approx(3 * SPACING[0]) for r in shifted)
    o2_boxes = [r for r in rows if r["model"] == "lunet-o2"]
    assert all(float(r["box_iou"]) == pytest.approx(1.0) and float(r["bb_out"]) == 0.0 for r in o2_boxes)

    t = json.loads((out / "tables.json").read_text())
    assert (
        t["table2"]["rows"][1]["lv_endo_dice"]["mean"] == tables["table2"]["rows"][1]["lv_endo_dice"]["mean"]
    )
    assert t["table3"]["rows"][0]["edv_ml"]["corr"] is None  # NaN is written as null (strict JSON)
    assert [r["model"] for r in t["table1"]["rows"]] == ["lunet-o2"]  # o1 has no boxes
    assert [r["model"] for r in t["table2"]["rows"]] == ["lunet-o1", "lunet-o2"]
    assert t["table2"]["rows"][1]["patients"] == 2  # the Poor patient is left out
    assert t["table4"]["rows"][1]["patients"] == 3
    o1 = t["table4"]["rows"][0]
    assert o1["geometric_patients"]["count"] == 2  # 24 rows x 0.4 mm = 9.6 mm > 8.8 mm
    assert o1["geometric_lv_endo_patients"]["count"] == 2 and o1["geometric_images"]["count"] == 8
    assert t["schema_version"] == SCHEMA_VERSION and t["paper"]["comparable"] is False
    assert {r["quality"] for r in t["table2_quality"]["rows"]} == {"Good", "Medium", "Poor"} & {
        r["quality"] for r in t["table2_quality"]["rows"]}  # fmt: skip
    records = read_records(out / "per_image.csv", ImageRecord)
    assert len(records) == 24 and all(r.geometric is not None for r in records)
    patients = read_records(out / "per_patient.csv", PatientRecord)
    assert {p.images for p in patients} == {4}
    assert o1["lv_endo_hd_mm"]["mean"] == pytest.approx(9.6 * 8 / 12)
    assert "SYNTHETIC" in t["table2"]["title"] and t["synthetic"]
    md = (out / "tables.md").read_text()
    assert "SYNTHETIC phantom data — not CAMUS" in md and "8.8 mm" in md
    assert "the lowest on the 12 reference masks evaluated" in md  # synthetic: anatomical bounds from refs
    assert {r["reference"] for r in t["table3"]["rows"]} == {"simpson", "cfg", "truth"}

    assert main(["evaluate", str(run), "--out", str(tmp_path / "cli")]) == 0
    assert (tmp_path / "cli" / "tables.md").read_text() == md

    clinical = read_csv(out / "clinical.csv")
    exact_c = next(c for c in clinical if c["patient"] == "patient0002" and c["model"] == "lunet-o2")
    assert float(exact_c["edv_ml"]) == pytest.approx(float(exact_c["simpson_edv_ml"]))
    assert float(exact_c["cfg_edv_ml"]) == 40.0
    truth = next(c for c in clinical if c["patient"] == "patient0001")
    assert float(truth["truth_ef_percent"]) == 38.0
    assert math.isnan(
        float(next(c for c in clinical if c["patient"] == "patient0002")["truth_edv_ml"] or "nan")
    )


def test_evaluate_folder_flat_and_shape_mismatch(camus_dir: Path, tmp_path: Path) -> None:
    pred = tmp_path / "flat"
    write_predictions(pred, shift=0, nested=False)
    tables = evaluate_folder(pred, camus_dir, tmp_path / "out", model_name="U-Net1")
    row = tables["table2"]["rows"][0]  # type: ignore[index]
    assert row["model"] == "U-Net1" and row["lv_epi_dice"]["mean"] == 1.0
    assert tables["table1"]["rows"] == []  # type: ignore[index]
    write_nifti(pred / "patient0003_4CH_ES.nii.gz", np.zeros((64, 64), np.uint8), SPACING)
    with pytest.raises(EvaluationError, match=r"patient0003_4CH_ES\.nii\.gz.*shape"):
        evaluate_folder(pred, camus_dir, tmp_path / "out2")


def test_oracle_rows(camus_dir: Path, tmp_path: Path) -> None:
    dirs = {}
    for m in (5, 15, 30):
        dirs[m] = tmp_path / f"bb{m}"
        write_predictions(dirs[m], shift=m // 5)
    models = {f"BB-m{m}": d for m, d in dirs.items()}  # the paper's oracle study: one row per margin
    tables = evaluate_models(models, camus_dir, tmp_path / "oracle")
    rows = tables["table2"]["rows"]  # type: ignore[index]
    assert [r["model"] for r in rows] == ["BB-m5", "BB-m15", "BB-m30"]
    dice = [r["lv_endo_dice"]["mean"] for r in rows]
    assert dice[0] > dice[1] > dice[2]  # predictions shifted by 1, 3 and 6 pixels


def test_cli_volumes_and_evaluate_folder(
    camus_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["volumes", str(camus_dir), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    edv = result["patients"]["patient0001"]["edv_ml"]
    assert edv == pytest.approx(2 / 3 * math.pi * 30 * 14 * 15 / 1000, rel=0.02)
    assert set(result["patients"]["patient0002"]) == {"edv_ml", "esv_ml", "ef_percent"}
    pred = tmp_path / "pred"
    write_predictions(pred, shift=1)
    out = tmp_path / "cli_out"
    assert main(["evaluate-folder", "--pred", str(pred), "--ref", str(camus_dir), "--out", str(out),
                 "--es-hd-mm", "0.1"]) == 0  # fmt: skip
    t = json.loads((out / "tables.json").read_text())
    assert t["thresholds"]["es_hd_mm"] == 0.1
    assert main(["evaluate-folder", "--pred", str(tmp_path / "missing"), "--ref", str(camus_dir),
                 "--out", str(out)]) == 2  # fmt: skip


def test_anatomical_bounds_from_the_references(camus_dir: Path, tmp_path: Path) -> None:
    exact, shifted = tmp_path / "exact", tmp_path / "shifted"
    write_predictions(exact, shift=0)
    write_predictions(shifted, shift=5)
    tables = evaluate_folder(exact, camus_dir, tmp_path / "a", anatomical_bounds="reference")
    rows = read_csv(tmp_path / "a" / "per_image.csv")
    bounds = tables["thresholds"]  # type: ignore[index]
    assert bounds["lv_convexity"] == min(float(r["ref_lv_convexity"]) for r in rows)  # type: ignore[index]
    assert bounds["myo_simplicity"] == min(float(r["ref_epi_simplicity"]) for r in rows)  # type: ignore[index]
    assert bounds["lv_simplicity"] != 0.741  # type: ignore[index]
    # predictions equal to the references are never anatomical outliers under the references' own bounds
    assert tables["table4"]["rows"][0]["anatomical_images"]["count"] == 0  # type: ignore[index]
    # the bounds depend on the references only, not on the predictions
    other = evaluate_folder(shifted, camus_dir, tmp_path / "b", anatomical_bounds="reference")
    assert other["thresholds"] == bounds
    # auto: references on synthetic data (patient0001 has phantom_truth.json), Table I otherwise
    assert evaluate_folder(exact, camus_dir, tmp_path / "c")["thresholds"] == bounds
    (camus_dir / "patient0001" / "phantom_truth.json").unlink()
    paper = evaluate_folder(exact, camus_dir, tmp_path / "d")
    assert paper["thresholds"]["lv_simplicity"] == 0.741 and not paper["synthetic"]  # type: ignore[index]
    with pytest.raises(ValueError, match="anatomical_bounds"):
        evaluate_folder(exact, camus_dir, tmp_path / "e", anatomical_bounds="experts")
    args = ["evaluate-folder", "--pred", str(exact), "--ref", str(camus_dir), "--out", str(tmp_path / "f")]
    assert main([*args, "--anatomical-bounds", "reference"]) == 0
    assert json.loads((tmp_path / "f" / "tables.json").read_text())["thresholds"] == bounds
    assert main([*args, "--lv-convexity", "0.5"]) == 0  # an explicit bound implies Table I for the others
    explicit = json.loads((tmp_path / "f" / "tables.json").read_text())["thresholds"]
    assert explicit["lv_convexity"] == 0.5 and explicit["lv_simplicity"] == 0.741
    with pytest.raises(SystemExit, match="conflict"):
        main([*args, "--lv-convexity", "0.5", "--anatomical-bounds", "reference"])


def test_phantom_volumes_match_analytic_truth(tmp_path: Path) -> None:
    """Simpson on the phantom's reference masks vs its analytic volumes (circular sections: exact Simpson)."""
    from lunet.data.synthetic import generate as synthetic
    from lunet.evaluation.evaluate import reference_volumes

    root = synthetic.generate_dataset(
        tmp_path / "phantom", 2, seed=3, workers=1, circular=True, progress=False
    )
    volumes = reference_volumes(root)["patients"]
    for pid, values in volumes.items():
        truth = json.loads(next(root.rglob(f"{pid}/phantom_truth.json")).read_text())
        for key in ("edv_ml", "esv_ml"):
            assert values[key] == pytest.approx(truth[key], rel=0.01)
        assert values["ef_percent"] == pytest.approx(truth["ef_percent"], abs=0.5)
