"""Held-out test set of the accuracy/calibration benches (bench/_heldout.py) on a tiny phantom."""

import math
from pathlib import Path

import pytest

from _heldout import heldout_folds, model_figures
from lunet.data.folds import read_fold_lists
from lunet.data.synthetic import generate_dataset
from lunet.evaluation.schema import ClinicalRecord, ImageRecord, PatientRecord, write_records


def test_heldout_folds_train_on_the_first_patients_and_test_on_the_extra_ones(tmp_path: Path) -> None:
    root = generate_dataset(tmp_path / "phantom", 7, size="256", seed=0, workers=1, progress=False)
    (fold,) = read_fold_lists(heldout_folds(root, 5, 2, tmp_path / "folds", seed=0))
    assert sorted(fold.train + fold.val) == [f"patient{i:04d}" for i in range(1, 6)]
    assert len(fold.val) == 1 and not set(fold.train) & set(fold.val)
    assert fold.test == ["patient0006", "patient0007"]
    with pytest.raises(ValueError, match="7 patients, 6 \\+ 2 held-out needed"):
        heldout_folds(root, 6, 2, tmp_path / "folds2", seed=0)


def _evaluation(folder: Path) -> Path:
    """Two models on 6 patients (4 images each): 'good' is 0.1 Dice above 'base' on every image; patients
    p5 and p6 are Poor with base Dice 0.5 (G+M base 0.9); 'base' flags p1 and p2 as outliers, 'good' none."""
    images, patients, clinical = [], [], []
    for model, gain in (("base", 0.0), ("good", 0.1)):
        for k in range(1, 7):
            pid, poor = f"patient000{k}", k >= 5
            quality = "Poor" if poor else "Good"
            for view in ("2CH", "4CH"):
                for instant in ("ED", "ES"):
                    dice = (0.5 if poor else 0.8 + 0.02 * k) + gain
                    images.append(ImageRecord(model, pid, view, instant, quality, lv_endo_dice=dice,
                                              lv_endo_hd_mm=5.0 - 10 * gain, lv_epi_dice=dice,
                                              geometric=False))  # fmt: skip
            flagged = model == "base" and k <= 2
            patients.append(PatientRecord(model, pid, quality, 4, flagged, False, flagged))
            clinical.append(ClinicalRecord(model, pid, quality, ef_percent=55.0, truth_ef_percent=50.0))
    write_records(folder / "per_image.csv", images, ImageRecord)
    write_records(folder / "per_patient.csv", patients, PatientRecord)
    write_records(folder / "clinical.csv", clinical, ClinicalRecord)
    return folder


def test_model_figures_known_answers(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    out = model_figures(_evaluation(tmp_path), ["base", "good"], baseline="base")
    base, good = out["figures"]["base"], out["figures"]["good"]
    assert base["dice_endo_gm"]["value"] == pytest.approx(0.85)  # mean of 0.82 … 0.88 over 4 G+M patients
    assert base["dice_endo_poor"]["value"] == pytest.approx(0.5)
    assert base["geo_patients"]["value"] == pytest.approx(2 / 6) and good["geo_patients"]["value"] == 0.0
    assert (good["geo_patients"]["low"], good["geo_patients"]["high"]) == (0.0, 0.0)
    assert base["ef_mae_gm"]["value"] == pytest.approx(5.0)
    paired = out["paired"]["good"]["dice_endo_gm"]  # +0.1 on every image: the paired interval is a point
    assert paired["value"] == pytest.approx(0.1) and paired["high"] - paired["low"] < 1e-9
    assert out["paired"]["good"]["hd_endo_gm"]["value"] == pytest.approx(-1.0)
    gap = out["poor_gap"]["base"]
    assert gap["value"] == pytest.approx(0.35) and gap["poor_clearly_worse"] and gap["low"] > 0
    assert "base" not in out["paired"] and out["patients"] == 6 and math.isfinite(base["hd_endo_gm"]["value"])


def test_rows_print_value_and_interval_and_skip_paired_columns_for_one_model(tmp_path: Path) -> None:
    from _heldout import interval_rows, paired_rows

    out = model_figures(_evaluation(tmp_path), ["base"], baseline="base")
    (row,) = interval_rows(out)
    assert row["Dice endo Poor"] == "0.500 [0.500, 0.500]" and row["geo out pat %"].startswith("33.3 [")
    (gap,) = paired_rows(out, baseline="base")
    assert list(gap) == ["model", "Dice endo G+M − Poor", "Poor clearly worse"]
    assert gap["Poor clearly worse"] == "yes"
