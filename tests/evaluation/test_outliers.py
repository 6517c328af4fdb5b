"""Outlier rules on hand-made records."""

from __future__ import annotations

import math

import pytest

from lunet.evaluation.outliers import (
    OutlierThresholds,
    anatomical_outlier,
    geometric_outlier,
    patient_outliers,
    reference_anatomical_bounds,
)

# a realistic horseshoe myocardium region has low Sp/Cx; the epicardial contour is nearly convex
GOOD_SHAPE = {"lv_simplicity": 0.9, "lv_convexity": 0.99, "epi_simplicity": 0.9, "epi_convexity": 0.98}
GOOD_SHAPE |= {"myo_simplicity": 0.35, "myo_convexity": 0.4}


def image(patient: str, instant: str, mad: float = 1.0, hd: float = 4.0, **shape: float) -> dict[str, object]:
    row: dict[str, object] = {"patient": patient, "view": "2CH", "instant": instant}
    for s in ("lv_endo", "lv_epi"):
        row[f"{s}_mad_mm"], row[f"{s}_hd_mm"] = 1.0, 4.0
    row["lv_epi_mad_mm"], row["lv_epi_hd_mm"] = mad, hd
    row.update(GOOD_SHAPE)
    row.update(shape)
    return row


def test_geometric_bounds_depend_on_instant() -> None:
    assert not geometric_outlier(image("p", "ED", mad=3.5, hd=8.2))  # equal to the bound is not above it
    assert geometric_outlier(image("p", "ED", mad=3.6))
    assert not geometric_outlier(image("p", "ES", mad=3.9, hd=8.7))
    assert geometric_outlier(image("p", "ES", hd=8.9))
    assert geometric_outlier(image("p", "ED", hd=math.nan))  # an empty mask counts
    assert not geometric_outlier(image("p", "ED", hd=9.0), OutlierThresholds(structures=("lv_endo",)))


def test_anatomical() -> None:
    assert not anatomical_outlier(image("p", "ED"))
    assert anatomical_outlier(image("p", "ED", lv_convexity=0.95))
    assert anatomical_outlier(image("p", "ED", epi_simplicity=0.5))
    assert anatomical_outlier(image("p", "ED", epi_convexity=math.nan))
    assert not anatomical_outlier(image("p", "ED", lv_convexity=0.95), OutlierThresholds(lv_convexity=0.9))
    on_region = OutlierThresholds(myo_shape_structure="myo")
    assert anatomical_outlier(image("p", "ED"), on_region)  # the horseshoe region fails 0.529 / 0.694
    assert not anatomical_outlier(image("p", "ED", myo_simplicity=0.6, myo_convexity=0.7), on_region)
    with pytest.raises(ValueError, match="myo_shape_structure"):
        OutlierThresholds(myo_shape_structure="atrium")


def test_patient_flags() -> None:
    rows = [
        image("a", "ED"), image("a", "ES", hd=9.0),  # geometric only
        image("b", "ED", lv_simplicity=0.5), image("b", "ES"),  # anatomical only
        image("c", "ED", mad=5.0), image("c", "ES", epi_convexity=0.1),  # both (different images)
        image("d", "ED"), image("d", "ES"),  # clean
    ]  # fmt: skip
    flags = patient_outliers(rows)
    assert flags["a"] == {"geometric": True, "anatomical": False, "both": False}
    assert flags["b"] == {"geometric": False, "anatomical": True, "both": False}
    assert flags["c"] == {"geometric": True, "anatomical": True, "both": True}
    assert flags["d"] == {"geometric": False, "anatomical": False, "both": False}
    text = OutlierThresholds().describe()
    assert "3.5" in text and "0.741" in text and "0.694" in text and "epicardial" in text


def test_reference_bounds_are_the_lowest_finite_values() -> None:
    refs = [
        GOOD_SHAPE,
        GOOD_SHAPE | {"lv_convexity": 0.945, "epi_simplicity": 0.87, "myo_convexity": 0.31},
        GOOD_SHAPE | {"lv_simplicity": math.nan, "epi_convexity": 0.96},  # NaN: structure absent, left out
    ]
    assert reference_anatomical_bounds(refs) == {
        "lv_simplicity": 0.9, "lv_convexity": 0.945, "myo_simplicity": 0.87, "myo_convexity": 0.96,
    }  # fmt: skip
    on_myo = reference_anatomical_bounds(refs, "myo")
    assert on_myo["myo_simplicity"] == 0.35 and on_myo["myo_convexity"] == 0.31
    # every reference passes its own bounds: the rule's defining property
    bounds = OutlierThresholds(**reference_anatomical_bounds(refs))
    assert not any(anatomical_outlier(r, bounds) for r in refs[:2])
    with pytest.raises(ValueError, match="lv_simplicity"):
        reference_anatomical_bounds([{"lv_simplicity": math.nan, "lv_convexity": 1.0}])
    with pytest.raises(ValueError, match="myo_shape_structure"):
        reference_anatomical_bounds(refs, "lv")
