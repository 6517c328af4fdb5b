"""The left atrium in the evaluation: scored for a model trained on it, NaN for one that was not."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from eval_helpers import SIZES, lv_labels, write_nifti

from lunet.data.labels import Label
from lunet.evaluation.atrium import patient_la_volumes
from lunet.evaluation.evaluate import evaluate_folder, evaluate_run
from lunet.evaluation.schema import ClinicalRecord, ImageRecord, read_records

SPACING = (0.4, 0.3)
SHAPE = (128, 112)
PATIENTS = ("patient0001", "patient0002", "patient0003")


def _predictions(folder: Path, shift: int, atrium: bool = True) -> None:
    """Reference-like label maps shifted by ``shift`` rows (patient0002 exact); ``atrium=False``: the LA
    written as background, as a model trained on LV and myocardium predicts."""
    for pid in PATIENTS:
        for key, (a, b) in SIZES.items():
            labels = lv_labels(SHAPE, SPACING, a, b, shift_rows=0 if pid == "patient0002" else shift)
            if not atrium:
                labels[labels == Label.LA] = 0
            write_nifti(folder / pid / f"{pid}_{key}.nii.gz", labels, SPACING)


def _run(tmp_path: Path, camus_dir: Path, dice_classes: list[int] | None, atrium: bool) -> Path:
    run = tmp_path / "run"
    _predictions(run / "predictions", shift=3, atrium=atrium)
    config = {"model": "unet1", "data": str(camus_dir), "margin": 0.05}
    if dice_classes is not None:
        config["dice_classes"] = dice_classes
    (run / "config.json").write_text(json.dumps(config))
    return run


def test_a_run_trained_on_the_atrium_scores_it(camus_dir: Path, tmp_path: Path) -> None:
    run = _run(tmp_path, camus_dir, [1, 2, 3], atrium=True)
    tables = evaluate_run(run)
    images = read_records(run / "evaluation" / "per_image.csv", ImageRecord)
    exact = [r for r in images if r.patient == "patient0002"]
    assert all(r.la_dice == 1.0 and r.la_hd_mm == 0.0 and r.la_mad_mm == 0.0 for r in exact)
    shifted = [r for r in images if r.patient == "patient0001"]
    # the fixture's LA reaches the image's last row: np.roll wraps 3 rows of it to the top of the image
    assert all(r.la_hd_mm > 3 * SPACING[0] and 0.8 < r.la_dice < 0.9 for r in shifted)
    clinical = read_records(run / "evaluation" / "clinical.csv", ClinicalRecord)
    two = next(c for c in clinical if c.patient == "patient0002")
    es = {(v, "ES"): (lv_labels(SHAPE, SPACING, *SIZES[f"{v}_ES"]), SPACING) for v in ("2CH", "4CH")}
    want = patient_la_volumes(es)["la_esv_ml"]
    assert two.la_esv_ml == pytest.approx(want) and two.ref_la_esv_ml == pytest.approx(want)
    # the fixture's LA: half ellipses of semi-axes 12 x 9.6 mm (4CH ES) and 12 x 8.8 mm (2CH ES) on the mitral
    # plane, a little cut by the image's bottom edge: about the half ellipsoid's 2/3·π·12·9.6·8.8 mm³
    assert want == pytest.approx(2 / 3 * math.pi * 12 * 9.6 * 8.8 / 1000, rel=0.1)
    rows = tables["table_la"]["rows"]  # type: ignore[index]
    assert [r["model"] for r in rows] == ["unet1"] and rows[0]["patients"] == 2  # the Poor one left out
    assert rows[0]["la_esv_ml"]["n"] == 2
    md = (run / "evaluation" / "tables.md").read_text()
    assert "Left atrium (not in the papers)" in md and "LA d_H mm" in md
    # Tables I–IV never read the LA
    assert "la_dice" not in json.dumps(tables["table2"]) and "la_dice" not in json.dumps(tables["table4"])


def test_a_run_written_before_the_atrium_leaves_its_columns_nan(camus_dir: Path, tmp_path: Path) -> None:
    run = _run(tmp_path, camus_dir, None, atrium=False)  # config without dice_classes: LV and MYO only
    tables = evaluate_run(run)
    images = read_records(run / "evaluation" / "per_image.csv", ImageRecord)
    assert all(math.isnan(r.la_dice) and math.isnan(r.la_hd_mm) for r in images)
    assert all(r.lv_endo_dice == 1.0 for r in images if r.patient == "patient0002")
    clinical = read_records(run / "evaluation" / "clinical.csv", ClinicalRecord)
    assert all(math.isnan(c.la_esv_ml) and math.isfinite(c.ref_la_esv_ml) for c in clinical)
    assert tables["table_la"]["rows"] == []  # type: ignore[index]


def test_a_folder_is_scored_on_the_atrium_when_its_predictions_hold_one(
    camus_dir: Path, tmp_path: Path
) -> None:
    with_la, without = tmp_path / "with", tmp_path / "without"
    _predictions(with_la, shift=0)
    _predictions(without, shift=0, atrium=False)
    t_with = evaluate_folder(with_la, camus_dir, tmp_path / "e1")
    t_without = evaluate_folder(without, camus_dir, tmp_path / "e2")
    assert t_with["table_la"]["rows"][0]["la_dice"]["mean"] == 1.0  # type: ignore[index]
    assert t_without["table_la"]["rows"] == []  # type: ignore[index]
    images = read_records(tmp_path / "e2" / "per_image.csv", ImageRecord)
    assert all(math.isnan(r.la_dice) for r in images)  # never a Dice of 0 for a model without an LA
