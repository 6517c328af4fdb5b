"""Per-patient volumes: emitted once 2CH/4CH × ED/ES are in, equal to Simpson's biplane on the same masks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lunet.evaluation.clinical import simpson_biplane_ml
from lunet.inference.patients import PatientAccumulator


def _ellipse(shape: tuple[int, int], a_mm: float, b_mm: float, spacing: tuple[float, float]) -> np.ndarray:
    """Vertical ellipse (long axis along rows), semi-axes in mm."""
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    r = (rr - shape[0] / 2) * spacing[0]
    c = (cc - shape[1] / 2) * spacing[1]
    return (r / a_mm) ** 2 + (c / b_mm) ** 2 <= 1.0


def test_volumes_written_when_complete(tmp_path: Path) -> None:
    spacing = (0.3, 0.25)
    masks = {
        ("2CH", "ED"): _ellipse((400, 300), 45, 22, spacing),
        ("4CH", "ED"): _ellipse((400, 300), 44, 24, spacing),
        ("2CH", "ES"): _ellipse((400, 300), 38, 16, spacing),
        ("4CH", "ES"): _ellipse((400, 300), 37, 17, spacing),
    }
    acc = PatientAccumulator(tmp_path)
    keys = list(masks)
    for view, instant in keys[:3]:
        assert (
            acc.add("patient0009", view, instant, masks[(view, instant)], spacing, f"{view}_{instant}", True)
            is None
        )
    assert acc.incomplete() == {"patient0009": ["4CH_ES"]}
    path = acc.add("patient0009", "4CH", "ES", masks[("4CH", "ES")], spacing, "last", False)
    assert path == (tmp_path / "patients" / "patient0009.json").resolve()
    data = json.loads(path.read_text())
    edv = simpson_biplane_ml(masks[("2CH", "ED")], spacing, masks[("4CH", "ED")], spacing)
    esv = simpson_biplane_ml(masks[("2CH", "ES")], spacing, masks[("4CH", "ES")], spacing)
    assert data["edv_ml"] == pytest.approx(edv) and data["esv_ml"] == pytest.approx(esv)
    assert data["ef_percent"] == pytest.approx(100 * (edv - esv) / edv)
    assert 50 < edv < 120 and data["all_images_qc_pass"] is False
    assert acc.incomplete() == {}


def _half_spheroid(a_mm: float, b_mm: float, spacing: tuple[float, float]) -> np.ndarray:
    """Axial section of a prolate spheroid cut at its equator: a flat mitral plane at the bottom, apex up."""
    rows, cols = int(a_mm / spacing[0]) + 20, int(2 * b_mm / spacing[1]) + 16
    r = (np.arange(rows)[:, None] - rows + 10.5) * spacing[0]
    c = (np.arange(cols)[None, :] - cols / 2 + 0.5) * spacing[1]
    return ((r / a_mm) ** 2 + (c / b_mm) ** 2 <= 1) & (r <= 0)


def test_camus_arc_and_camus_differ_at_the_first_disc_and_the_json_says_which(tmp_path: Path) -> None:
    """On a flat mitral plane the published ``camus`` measures its first disc on the plane (narrow), and
    ``camus-arc`` at full width just above it: camus-arc's volumes are larger by about that disc."""
    from lunet.evaluation.clinical import patient_volumes
    from lunet.evaluation.simpson import SimpsonOptions

    spacing = (0.3, 0.25)
    masks = {
        ("2CH", "ED"): _half_spheroid(45.0, 22.0, spacing),
        ("4CH", "ED"): _half_spheroid(44.0, 24.0, spacing),
        ("2CH", "ES"): _half_spheroid(38.0, 16.0, spacing),
        ("4CH", "ES"): _half_spheroid(37.0, 17.0, spacing),
    }
    found = {}
    for convention in ("camus", "camus-arc"):
        acc = PatientAccumulator(tmp_path / convention, convention)
        for (view, instant), mask in masks.items():
            path = acc.add("patient0004", view, instant, mask, spacing, f"{view}_{instant}", True)
        assert path is not None
        found[convention] = data = json.loads(path.read_text())
        assert data["ef_convention"] == convention
        expected = patient_volumes(
            {k: (m, spacing) for k, m in masks.items()}, SimpsonOptions.for_convention(convention)
        )
        for key in ("edv_ml", "esv_ml", "ef_percent"):
            assert data[key] == pytest.approx(expected[key])
    # one of 20 discs at full width instead of a sliver: a few per cent more (the 2–6 %)
    assert 1.02 < found["camus-arc"]["edv_ml"] / found["camus"]["edv_ml"] < 1.08
    assert 1.02 < found["camus-arc"]["esv_ml"] / found["camus"]["esv_ml"] < 1.08


def test_predict_takes_camus_arc_from_the_command_line(tmp_path: Path) -> None:
    from inference_helpers import echo_like, make_bundle

    from lunet.cli import build_parser, main
    from lunet.data.camus_io import write_image

    parser = build_parser()
    args = parser.parse_args(["predict", "--model", "m", "x", "--out", "o", "--ef-convention", "camus-arc"])
    assert args.ef_convention == "camus-arc"
    with pytest.raises(SystemExit):  # still a closed list
        parser.parse_args(["predict", "--model", "m", "x", "--out", "o", "--ef-convention", "arc"])
    bundle = make_bundle(tmp_path / "model", "unet1", filters=(8, 8, 8, 8, 8, 8))
    patient = tmp_path / "patient0003"
    for k, (view, instant) in enumerate([("2CH", "ED"), ("2CH", "ES"), ("4CH", "ED"), ("4CH", "ES")]):
        write_image(patient / f"patient0003_{view}_{instant}.nii.gz", echo_like(80, 64, k), (0.3, 0.25))
    out = tmp_path / "out"
    flags = ["--backend", "torch", "--no-overlay", "--no-progress", "--ef-convention", "camus-arc"]
    assert main(["predict", "--model", str(bundle), str(patient), "--out", str(out), *flags]) == 0
    assert json.loads((out / "patients" / "patient0003.json").read_text())["ef_convention"] == "camus-arc"
