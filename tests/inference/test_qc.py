"""Anatomical QC on hand-made label maps with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from lunet.evaluation.outliers import OutlierThresholds
from lunet.inference.qc import qc_report

SPACING = (0.3, 0.2)


def _disk(shape, centre, radius, spacing=(1.0, 1.0)) -> np.ndarray:
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    return np.hypot((rr - centre[0]) * spacing[0], (cc - centre[1]) * spacing[1]) <= radius


def heart(shape=(160, 200)) -> np.ndarray:
    """LV ellipse (disk in mm) with a myocardial band open at the base (top)."""
    centre = (shape[0] // 2, shape[1] // 2)
    lv = _disk(shape, centre, 12.0, SPACING)
    epi = _disk(shape, centre, 15.0, SPACING)
    label = np.zeros(shape, dtype=np.uint8)
    label[epi] = 2
    label[: centre[0] - int(10 / SPACING[0])] = 0  # open at the base
    label[lv] = 1
    return label


def test_plausible_heart_passes() -> None:
    report = qc_report(heart(), SPACING)
    assert report["flags"] == [] and report["qc_pass"] is True
    lv = report["structures"]["lv"]
    assert lv["area_mm2"] == pytest.approx(np.pi * 12.0**2, rel=0.02)
    assert lv["components"] == 1 and lv["holes"] == 0
    assert lv["simplicity"] > 0.95 and lv["convexity"] > 0.96
    assert report["thresholds"]["lv_convexity"] == 0.960


def test_two_component_lv_fails() -> None:
    label = heart()
    label[5:15, 5:15] = 1  # a stray LV blob far away
    report = qc_report(label, SPACING)
    assert "lv_components" in report["flags"] and report["qc_pass"] is False


def test_c_shaped_lv_fails_convexity() -> None:
    shape = (160, 200)
    label = np.zeros(shape, dtype=np.uint8)
    ring = _disk(shape, (80, 100), 12.0, SPACING) & ~_disk(shape, (80, 100), 7.0, SPACING)
    ring[70:90, 100:] = False  # open the ring on the right: a C
    label[ring] = 1
    report = qc_report(label, SPACING)
    assert "lv_convexity" in report["flags"] and "lv_simplicity" in report["flags"]
    assert report["structures"]["lv"]["convexity"] < 0.9
    assert not report["qc_pass"]


def test_lv_with_hole_and_empty_myo() -> None:
    shape = (100, 100)
    label = np.zeros(shape, dtype=np.uint8)
    label[_disk(shape, (50, 50), 20)] = 1
    label[48:52, 48:52] = 0
    report = qc_report(label, (1.0, 1.0))
    assert {"lv_holes", "myo_empty"} <= set(report["flags"])
    assert report["structures"]["myo"]["simplicity"] is None  # empty: no score, not a made-up number


def test_thresholds_are_applied() -> None:
    strict = OutlierThresholds(lv_simplicity=1.5)
    assert "lv_simplicity" in qc_report(heart(), SPACING, strict)["flags"]


def test_empty_prediction_fails() -> None:
    report = qc_report(np.zeros((50, 50), np.uint8), (1.0, 1.0))
    assert set(report["flags"]) == {"lv_empty", "myo_empty", "lv_epi_empty"}


def test_myo_bounds_on_the_myocardium_region_flag_a_normal_band() -> None:
    """Why the default measures "Myo" on LV_Epi: the open band itself is far from convex."""
    report = qc_report(heart(), SPACING, OutlierThresholds(myo_shape_structure="myo"))
    assert "myo_convexity" in report["flags"] and report["structures"]["myo"]["convexity"] < 0.694
    assert "epicardial" in qc_report(heart(), SPACING)["reading"]


def test_atrium_checks_only_for_a_model_trained_on_it() -> None:
    from lunet.inference.qc import la_volume_flags

    label = heart()
    report = qc_report(label, SPACING, atrium=True)
    assert "la_empty" in report["flags"] and report["structures"]["la"]["area_mm2"] == 0.0
    assert "la" not in qc_report(label, SPACING)["structures"]  # an LV/MYO model: no LA, no LA flag
    assert "la_empty" not in qc_report(label, SPACING)["flags"]
    label[2:20, 80:120] = 3  # an atrium above the base …
    report = qc_report(label, SPACING, atrium=True)
    assert not any(f.startswith("la_") for f in report["flags"])
    assert report["structures"]["la"]["area_mm2"] == pytest.approx(18 * 40 * SPACING[0] * SPACING[1])
    label[0:2, 80:120] = 3  # … is cut by the image edge when it reaches row 0
    assert "la_touches_image_border" in qc_report(label, SPACING, atrium=True)["flags"]
    assert la_volume_flags(40.0) == [] and la_volume_flags(float("nan")) == []
    assert la_volume_flags(5.0) == la_volume_flags(400.0) == ["la_volume_out_of_range"]


def test_atrium_touching_the_sector_edge_is_flagged() -> None:
    rows, cols = 160, 200
    rr, cc = np.mgrid[:rows, :cols]
    image = np.where(np.abs(cc - cols / 2) < 0.6 * rr + 5, 0.6, 0.0).astype(np.float32)  # a fan, apex on top
    label = heart()
    label[label > 0] = 0
    label[60:100, 90:110] = 1
    label[100:150, 85:115] = 3  # inside the fan
    assert "la_touches_sector_border" not in qc_report(label, SPACING, image=image, atrium=True)["flags"]
    label[100:150, 20:115] = 3  # out of the fan on the left
    assert "la_touches_sector_border" in qc_report(label, SPACING, image=image, atrium=True)["flags"]
