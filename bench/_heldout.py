"""Held-out test set and bootstrap figures of the accuracy and calibration benches (SYNTHETIC phantom).

:func:`heldout_folds`: ``--test-patients N`` adds N phantom patients to the dataset (the generator makes
patient i from (seed, i) alone, so the first ``--patients`` are the same patients as without the option and
the ids stay unique) and writes one fold list (``subGroup1_*.txt``, the data config's ``folds_dir``): the
first ``--patients`` split stratified (quality, EF class; ``lunet.data.folds.assign_groups``) into training
(4/5) and validation (1/5), the N extra patients as testing. Training never sees them.

:func:`model_figures`: the figures of every model on its test patients with patient-level bootstrap intervals
(``bench/_bootstrap.py``), and the paired differences against a baseline model on the same resamples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _bootstrap import N_RESAMPLES, Interval, PatientSums, patient_sums, ratio_ci

#: Validation groups of the training patients: 1 of 5 (20 %) validates.
VAL_GROUPS = 5
#: Figures with their display name, scale and digits (shares in %).
FIGURES = {
    "dice_endo_gm": ("Dice endo G+M", 1.0, 3),
    "hd_endo_gm": ("d_H endo G+M mm", 1.0, 2),
    "dice_epi_gm": ("Dice epi G+M", 1.0, 3),
    "geo_patients": ("geo out pat %", 100.0, 1),
    "geo_endo_patients": ("geo out pat endo %", 100.0, 1),
    "geo_images": ("geo out img %", 100.0, 1),
    "ef_mae_gm": ("EF MAE G+M %", 1.0, 2),
    "dice_endo_poor": ("Dice endo Poor", 1.0, 3),
}
#: Figures compared with the baseline model on the same resampled patients.
PAIRED = ("dice_endo_gm", "hd_endo_gm", "geo_patients")


def heldout_folds(root: Path, patients: int, test_patients: int, folds_dir: Path, seed: int) -> Path:
    """Write the held-out fold list of a dataset holding ``patients + test_patients`` patients.

    Args:
        root: phantom dataset (patient ids sorted: the first ``patients`` train/validate, the rest test).
        patients: training + validation patients (≥ ``VAL_GROUPS``).
        test_patients: held-out test patients.
        folds_dir: folder written (``subGroup1_{training,validation,testing}.txt``).
        seed: seed of the stratified validation split.

    Returns:
        ``folds_dir``.

    Raises:
        ValueError: the dataset has fewer patients than asked, or too few to validate.
    """
    from lunet.data.camus import scan_camus
    from lunet.data.folds import Fold, assign_groups, stratum, write_fold_lists

    records = sorted(scan_camus(root).patients, key=lambda p: p.patient_id)
    if len(records) < patients + test_patients:
        raise ValueError(f"{root}: {len(records)} patients, {patients} + {test_patients} held-out needed")
    if patients < VAL_GROUPS:
        raise ValueError(f"--patients {patients}: at least {VAL_GROUPS} are needed for a validation split")
    seen = records[:patients]
    groups = assign_groups({p.patient_id: stratum(p) for p in seen}, VAL_GROUPS, seed)
    train = sorted(pid for group in groups[1:] for pid in group)
    test = [p.patient_id for p in records[patients : patients + test_patients]]
    return write_fold_lists([Fold(0, train, list(groups[0]), test)], folds_dir)


def _sums(evaluation: Path, model: str, patients: Sequence[str]) -> dict[str, PatientSums]:
    """Per-patient sums of every figure of :data:`FIGURES` for ``model``."""
    from lunet.evaluation.schema import ClinicalRecord, ImageRecord, PatientRecord, read_records
    from lunet.evaluation.tables import good_medium

    images = [r for r in read_records(evaluation / "per_image.csv", ImageRecord) if r.model == model]
    per_patient = [r for r in read_records(evaluation / "per_patient.csv", PatientRecord) if r.model == model]
    clinical = [r for r in read_records(evaluation / "clinical.csv", ClinicalRecord) if r.model == model]
    gm = [r for r in images if good_medium(r.quality) and r.has_reference]
    poor = [r for r in images if not good_medium(r.quality) and r.has_reference]

    def flag(value: bool | None) -> float:
        return math.nan if value is None else float(value)

    def ef_error(c: ClinicalRecord) -> float:
        truth = c.truth_ef_percent if math.isfinite(c.truth_ef_percent) else c.simpson_ef_percent
        return abs(c.ef_percent - truth)

    return {
        "dice_endo_gm": patient_sums(patients, [(r.patient, r.lv_endo_dice) for r in gm]),
        "hd_endo_gm": patient_sums(patients, [(r.patient, r.lv_endo_hd_mm) for r in gm]),
        "dice_epi_gm": patient_sums(patients, [(r.patient, r.lv_epi_dice) for r in gm]),
        "geo_patients": patient_sums(patients, [(p.patient, flag(p.geometric)) for p in per_patient]),
        "geo_endo_patients": patient_sums(
            patients, [(p.patient, flag(p.geometric_lv_endo)) for p in per_patient]
        ),
        "geo_images": patient_sums(patients, [(r.patient, flag(r.geometric)) for r in images]),
        "ef_mae_gm": patient_sums(
            patients, [(c.patient, ef_error(c)) for c in clinical if good_medium(c.quality)]
        ),
        "dice_endo_poor": patient_sums(patients, [(r.patient, r.lv_endo_dice) for r in poor]),
    }


def model_figures(
    evaluation: Path, models: Sequence[str], baseline: str = "unet1", seed: int = 0, method: str = "BCa"
) -> dict[str, Any]:
    """Figures of every model with 95 % patient-bootstrap intervals, paired differences and the Poor gap.

    Args:
        evaluation: folder written by ``lunet.evaluation.evaluate.evaluate_models`` (its three CSVs).
        models: model names in it.
        baseline: model the others are compared with (paired differences: model − baseline).
        seed: seed of the resampling (the same for every figure, so the intervals are paired).
        method: ``"BCa"`` or ``"percentile"``.

    Returns:
        JSON-ready ``{"method", "n_resamples", "seed", "patients", "figures": {model: {figure: interval}},
        "paired": {model: {figure: interval of model − baseline}}, "poor_gap": {model: interval of Dice endo
        G+M − Poor, "poor_clearly_worse": bool}}``; intervals as :meth:`Interval.as_dict`.
    """
    from lunet.evaluation.schema import ImageRecord, read_records

    ids = sorted({r.patient for r in read_records(evaluation / "per_image.csv", ImageRecord)})
    sums = {model: _sums(evaluation, model, ids) for model in models}

    def ci(first: PatientSums, minus: PatientSums | None = None) -> Interval:
        return ratio_ci(first, minus, seed=seed, method=method)

    out: dict[str, Any] = {
        "method": f"{method} bootstrap over test patients", "n_resamples": N_RESAMPLES, "seed": seed,
        "patients": len(ids), "figures": {}, "paired": {}, "poor_gap": {},
    }  # fmt: skip
    for model, figures in sums.items():
        out["figures"][model] = {name: ci(s).as_dict() for name, s in figures.items()}
        gap = ci(figures["dice_endo_gm"], figures["dice_endo_poor"])
        out["poor_gap"][model] = gap.as_dict() | {"poor_clearly_worse": gap.low > 0}
        if model != baseline and baseline in sums:
            out["paired"][model] = {n: ci(figures[n], sums[baseline][n]).as_dict() for n in PAIRED}
    return out


def _cell(interval: dict[str, Any], name: str) -> str:
    _, scale, digits = FIGURES[name]
    return Interval(**interval).text(digits, scale)


def interval_rows(figures: dict[str, Any], names: Sequence[str] = tuple(FIGURES)) -> list[dict[str, str]]:
    """Table rows ``model | figure "value [lo, hi]" …`` of :func:`model_figures`' output."""
    return [
        {"model": model, **{FIGURES[n][0]: _cell(values[n], n) for n in names}}
        for model, values in figures["figures"].items()
    ]


def paired_rows(figures: dict[str, Any], baseline: str = "unet1") -> list[dict[str, str]]:
    """Rows of the paired differences (model − baseline) and of the Good+Medium − Poor Dice gap."""
    rows = []
    for model, gap in figures["poor_gap"].items():
        row = {"model": model}
        for name in PAIRED if figures["paired"] else ():  # one model alone (calibration): the gap only
            paired = figures["paired"].get(model)
            row[f"Δ {FIGURES[name][0]} vs {baseline}"] = _cell(paired[name], name) if paired else "(baseline)"
        row["Dice endo G+M − Poor"] = Interval(**gap_fields(gap)).text(3)
        row["Poor clearly worse"] = "yes" if gap["poor_clearly_worse"] else "no"
        rows.append(row)
    return rows


def gap_fields(gap: dict[str, Any]) -> dict[str, Any]:
    """The :class:`Interval` fields of a ``poor_gap`` entry."""
    return {k: gap[k] for k in ("value", "low", "high", "patients", "method")}
