"""A fake two-run setup for the report tests: a tiny CAMUS-like data folder and two evaluated run folders.

Hand-written evaluation files follow what lunet.evaluation writes (columns of per_image.csv, per_patient.csv,
clinical.csv; the tables.json schema); the values are made up but consistent (see ``WORST``).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from lunet.data.camus_io import write_image

SHAPE = (72, 56)
SPACING = (0.4, 0.3)
PATIENTS = ("patient0001", "patient0002", "patient0003")
VIEWS = ("2CH", "4CH")
INSTANTS = ("ED", "ES")
#: Worst image (largest LV_Epi d_H) of each model in the hand-written per_image.csv.
WORST = {"lunet-o1": ("patient0003", "4CH", "ES"), "lunet-o2": ("patient0002", "2CH", "ED")}


def ellipse_label(
    shape: tuple[int, int], centre: tuple[float, float], radii: tuple[float, float]
) -> np.ndarray:
    """uint8 label map: LV (1) inside an ellipse, myocardium (2) in a ring of 3 px around it, LA (3) below."""
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    r = ((rows - centre[0]) / radii[0]) ** 2 + ((cols - centre[1]) / radii[1]) ** 2
    outer = ((rows - centre[0]) / (radii[0] + 3)) ** 2 + ((cols - centre[1]) / (radii[1] + 3)) ** 2
    label = np.zeros(shape, np.uint8)
    label[outer <= 1] = 2
    label[r <= 1] = 1
    la = ((rows - centre[0] - radii[0] - 10) / 5) ** 2 + ((cols - centre[1]) / 7) ** 2 <= 1
    label[la & (label == 0)] = 3
    return label


def _write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def make_data(root: Path, synthetic: bool = True) -> Path:
    """CAMUS NIfTI-layout folder with 3 patients (images, labels, cfgs; phantom_truth.json when synthetic)."""
    rng = np.random.default_rng(0)
    for index, patient in enumerate(PATIENTS):
        folder = root / patient
        folder.mkdir(parents=True)
        for view in VIEWS:
            (folder / f"Info_{view}.cfg").write_text(
                f"ED: 1\nES: 10\nNbFrame: 10\nImageQuality: Good\nEF: {50 + index}\n"
            )
            for instant in INSTANTS:
                radii = (18.0, 10.0) if instant == "ED" else (15.0, 8.0)
                label = ellipse_label(SHAPE, (30.0, 28.0), radii)
                image = (label > 0) * 80.0 + rng.normal(40.0, 10.0, SHAPE)
                write_image(folder / f"{patient}_{view}_{instant}.nii.gz", image.astype(np.float32), SPACING)
                write_image(folder / f"{patient}_{view}_{instant}_gt.nii.gz", label, SPACING)
        if synthetic:
            (folder / "phantom_truth.json").write_text(json.dumps({"edv_ml": 100.0, "esv_ml": 45.0}))
    return root


def _stat(mean: float, sd: float = 0.05, n: int = 12) -> dict:
    return {"mean": mean, "sd": sd, "n": n}


def _count(count: int, total: int) -> dict:
    return {"count": count, "total": total, "percent": 100.0 * count / total}


def _tables(models: list[str], shift: int) -> dict:
    """A tables.json in the schema of lunet.evaluation.tables (values made up, distinct per run)."""
    seg = {
        f"{s}_{m}": _stat(v + shift / 100)
        for s in ("lv_endo", "lv_epi")
        for m, v in (("dice", 0.9), ("mad_mm", 1.2), ("hd_mm", 4.0))
    }
    agreement = {
        "mean": 1.0,
        "sd": 2.0,
        "corr": 0.95,
        "bias": 1.0,
        "loa_low": -2.9,
        "loa_high": 4.9,
        "mae": 1.5,
    }
    outliers = {
        f"{k}_outliers_{u}": _count(1, 12 if u == "images" else 3)
        for k in ("geometric", "anatomical", "both")
        for u in ("images", "patients")
    }
    box = {k: _stat(1.0 + shift / 10) for k in ("xc_mm", "yc_mm", "h_mm", "w_mm")}
    return {
        "synthetic": True,
        "data_note": "SYNTHETIC phantom data — not CAMUS",
        "thresholds": {
            "ed_mad_mm": 3.5,
            "ed_hd_mm": 8.2,
            "es_mad_mm": 4.0,
            "es_hd_mm": 8.8,
            "lv_simplicity": 0.741,
            "lv_convexity": 0.96,
            "myo_simplicity": 0.529,
            "myo_convexity": 0.694,
            "structures": ["lv_endo", "lv_epi"],
        },
        "thresholds_text": "geometric: d_m > 3.5 mm (ED) ...",
        "table1": {
            "title": "Table I: localization",
            "rows": [
                {
                    "model": models[-1],
                    "patients": 3,
                    "iou": _stat(0.9 + shift / 100),
                    **box,
                    "bb_out": _count(1, 12),
                }
            ],
        },
        "table2": {
            "title": "Table II: segmentation",
            "rows": [
                {
                    "model": m,
                    "patients": 3,
                    **seg,
                    **{k: v for k, v in outliers.items() if k.startswith("geo")},
                }
                for m in models
            ],
        },
        "table3": {
            "title": "Table III: clinical",
            "rows": [
                {
                    "model": m,
                    "reference": "simpson",
                    "edv_ml": agreement,
                    "esv_ml": agreement,
                    "ef_percent": agreement,
                }
                for m in models
            ],
        },
        "table4": {
            "title": "Table IV: outliers",
            "rows": [
                {"model": m, "patients": 3, **{k: v for k, v in seg.items() if "dice" not in k}, **outliers}
                for m in models
            ],
        },
    }


def sequence_evaluation(shift: int) -> dict:
    """A sequence.json in the schema of lunet.evaluation.sequence (values made up)."""
    area = [1500.0 - 40.0 * k for k in range(12)]
    summary = {
        "synthetic": True, "sequences": 2, "frames": 24, "lv_endo_dice": 0.9, "lv_endo_mad_mm": 1.1,
        "lv_endo_hd_mm": 3.4, "lv_epi_dice": 0.92, "ed_abs_error_frames": 0.5, "es_abs_error_frames": 1.0,
        "ed_abs_error_ms": 12.5, "es_abs_error_ms": 25.0, "roughness_ratio": 1.4, "jump_share": 0.05,
        "ref_jump_share": 0.0, "jump_mm": 2.0, "ef_mae": 3.2 + shift, "patients_with_ef": 1,
    }  # fmt: skip
    curve = {
        "patient": PATIENTS[0], "view": "2CH", "pred_area_mm2": area, "ed_frames": [1], "es_frames": [12],
        "ref_ed": 1, "ref_es": 11, "ref_area_mm2": [a + 20.0 for a in area],
    }  # fmt: skip
    return {"summary": summary, "sequences": [], "patients": [], "curves": [curve]}


def make_run(root: Path, model: str, data_dir: Path, shift: int, two_outputs: bool, evaluated: bool) -> Path:
    """A run folder: config.json, predictions (reference shifted by ``shift`` rows), maybe evaluation/.

    With ``two_outputs`` the run also has ``predictions_o1/`` and ``predictions/boxes.csv``, and its
    evaluation rows are ``<model>-o1`` and ``<model>-o2`` (as lunet.evaluation writes them for LU-Net runs).
    """
    root.mkdir(parents=True)
    config = {"model": model, "data": str(data_dir), "fold": 0, "epochs": 3, "size": 64, "margin": 0.05}
    (root / "config.json").write_text(json.dumps(config))
    outputs = (
        {f"{model}-o1": "predictions_o1", f"{model}-o2": "predictions"}
        if two_outputs
        else {model: "predictions"}
    )
    images, patients, clinical, boxes = [], [], [], []
    for o_index, (name, folder) in enumerate(outputs.items()):
        worst = WORST.get(name)
        for p_index, patient in enumerate(PATIENTS):
            for view in VIEWS:
                for instant in INSTANTS:
                    radii = (18.0, 10.0) if instant == "ED" else (15.0, 8.0)
                    label = ellipse_label(SHAPE, (30.0 + shift + o_index, 28.0), radii)
                    write_image(
                        root / folder / patient / f"{patient}_{view}_{instant}.nii.gz", label, SPACING
                    )
                    dh = 9.5 if (patient, view, instant) == worst else 2.0 + p_index + 0.1 * len(images)
                    images.append(
                        {
                            "model": name,
                            "patient": patient,
                            "view": view,
                            "instant": instant,
                            "quality": "Good",
                            "lv_endo_dice": 0.90,
                            "lv_endo_mad_mm": 1.2,
                            "lv_endo_hd_mm": dh - 0.5,
                            "lv_epi_dice": 0.93,
                            "lv_epi_mad_mm": 1.1 + 0.1 * p_index,
                            "lv_epi_hd_mm": dh,
                            "lv_simplicity": 0.9,
                            "lv_convexity": 0.97,
                            "myo_simplicity": 0.6,
                            "myo_convexity": 0.7,
                        }
                    )
                    boxes.append([patient, view, instant, 0.2, 0.1, 0.8, 0.7])
            flags = {"geometric": int(p_index == 2), "anatomical": int(p_index == 1), "both": 0}
            patients.append({"model": name, "patient": patient, "quality": "Good", **flags})
            edv, esv = 100.0 + 10 * p_index, 45.0 + 5 * p_index
            clinical.append(
                {
                    "model": name,
                    "patient": patient,
                    "quality": "Good",
                    "edv_ml": edv + shift,
                    "esv_ml": esv - shift,
                    "ef_percent": 55.0 + p_index,
                    "simpson_edv_ml": edv,
                    "simpson_esv_ml": esv,
                    "simpson_ef_percent": 55.0 + 2 * p_index,
                    "cfg_edv_ml": "nan",
                    "cfg_esv_ml": "nan",
                    "cfg_ef_percent": 50.0,
                    "truth_edv_ml": 100.0,
                    "truth_esv_ml": 45.0,
                    "truth_ef_percent": "nan",
                }
            )
    if two_outputs:
        _write_csv(
            root / "predictions" / "boxes.csv",
            [
                dict(zip(["patient", "view", "instant", "x_min", "y_min", "x_max", "y_max"], b))
                for b in boxes[:12]
            ],
        )
    if evaluated:
        evaluation = root / "evaluation"
        _write_csv(evaluation / "per_image.csv", images)
        _write_csv(evaluation / "per_patient.csv", patients)
        _write_csv(evaluation / "clinical.csv", clinical)
        (evaluation / "tables.json").write_text(json.dumps(_tables(list(outputs), shift)))
    return root


@pytest.fixture(scope="session")
def camus_folder():
    """:func:`make_data`, for tests that need another data folder."""
    return make_data


@pytest.fixture(scope="session")
def run_folder():
    """:func:`make_run`, for tests that need another run folder."""
    return make_run


@pytest.fixture(scope="session")
def fake_setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{"data", "run_a", "run_b"}``: synthetic data; run_a (unet1) has no evaluation/ (the report runs
    lunet.evaluation on it), run_b (lunet, two outputs, boxes) has hand-written evaluation files."""
    root = tmp_path_factory.mktemp("report_setup")
    data = make_data(root / "data")
    run_b = make_run(root / "run_lunet", "lunet", data, shift=-2, two_outputs=True, evaluated=True)
    (run_b / "evaluation" / "sequence.json").write_text(json.dumps(sequence_evaluation(-2)))
    return {
        "data": data,
        "run_a": make_run(root / "run_unet1", "unet1", data, shift=1, two_outputs=False, evaluated=False),
        "run_b": run_b,
    }


@pytest.fixture(scope="session")
def fake_report(fake_setup: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report over the fake setup, written once per session through the CLI (``lunet report``)."""
    from lunet.cli import main

    out = tmp_path_factory.mktemp("report_out") / "report.html"
    assert main(["report", str(fake_setup["run_a"]), str(fake_setup["run_b"]), "--out", str(out)]) == 0
    return out
