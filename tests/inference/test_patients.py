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
