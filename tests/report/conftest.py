"""A fake two-run setup for the report tests: a tiny CAMUS-like data folder and two evaluated run folders.

The evaluation files are written by lunet.evaluation itself, so the report is tested on the contract as it is
(:mod:`lunet.evaluation.schema`).
"""

from __future__ import annotations

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
#: Worst image (largest LV_Epi d_H) of each model: its prediction is shifted most.
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
            (folder / "phantom_truth.json").write_text(
                json.dumps({"edv_ml": 100.0, "esv_ml": 45.0, "ef_percent": 55.0})
            )
    return root


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
    """A run folder: config.json, predictions (the reference shifted by ``shift`` rows), maybe evaluation/.

    With ``two_outputs`` the run also has ``predictions_o1/`` (shifted one row more) and
    ``predictions/boxes.csv``, so its evaluation rows are ``<model>-o1`` and ``<model>-o2``. The image of
    :data:`WORST` is shifted 4 rows more. ``evaluated``: ``evaluation/`` written by ``lunet.evaluation``
    with RU-Net Table I's anatomical bounds.
    """
    from lunet.boxes import write_boxes_csv
    from lunet.evaluation.evaluate import evaluate_run

    root.mkdir(parents=True)
    config = {"model": model, "data": str(data_dir), "fold": 0, "epochs": 3, "size": 64, "margin": 0.05}
    (root / "config.json").write_text(json.dumps(config))
    outputs = (
        {f"{model}-o1": "predictions_o1", f"{model}-o2": "predictions"}
        if two_outputs
        else {model: "predictions"}
    )
    boxes = {}
    for o_index, (name, folder) in enumerate(outputs.items()):
        for patient in PATIENTS:
            for view in VIEWS:
                for instant in INSTANTS:
                    radii = (18.0, 10.0) if instant == "ED" else (15.0, 8.0)
                    rows = shift + o_index + (4 if (patient, view, instant) == WORST.get(name) else 0)
                    label = ellipse_label(SHAPE, (30.0 + rows, 28.0), radii)
                    write_image(
                        root / folder / patient / f"{patient}_{view}_{instant}.nii.gz", label, SPACING
                    )
                    boxes[(patient, view, instant)] = (0.2, 0.1, 0.8, 0.7)
    if two_outputs:
        write_boxes_csv(root / "predictions" / "boxes.csv", boxes)
    if evaluated:
        evaluate_run(root, anatomical_bounds="paper")
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
    lunet.evaluation on it), run_b (lunet, two outputs, boxes) is evaluated with Table I's bounds."""
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
