"""Outlier rules on hand-made records: per image, per structure, and LU-Net's per-patient rule."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from lunet.evaluation.outliers import (
    OutlierThresholds,
    anatomical_outlier,
    geometric_flags,
    image_flags,
    patient_records,
    reference_anatomical_bounds,
)
from lunet.evaluation.schema import ImageRecord

# a realistic horseshoe myocardium region has low Sp/Cx; the epicardial contour is nearly convex
GOOD_SHAPE = {"lv_simplicity": 0.9, "lv_convexity": 0.99, "epi_simplicity": 0.9, "epi_convexity": 0.98}
GOOD_SHAPE |= {"myo_simplicity": 0.35, "myo_convexity": 0.4}
TH = OutlierThresholds()


def image(patient: str, instant: str, view: str = "2CH", endo_hd: float = 4.0, epi_mad: float = 1.0,
          epi_hd: float = 4.0, **shape: float) -> ImageRecord:  # fmt: skip
    record = ImageRecord(
        "m", patient, view, instant, "Good", lv_endo_dice=0.9, lv_endo_mad_mm=1.0, lv_endo_hd_mm=endo_hd,
        lv_epi_dice=0.9, lv_epi_mad_mm=epi_mad, lv_epi_hd_mm=epi_hd, **(GOOD_SHAPE | shape),
    )  # fmt: skip
    return replace(record, **image_flags(record, TH, has_reference=True))


def test_geometric_bounds_depend_on_instant_and_structure() -> None:
    assert geometric_flags(image("p", "ED", epi_mad=3.5, epi_hd=8.2), TH) == {
        "lv_endo": False,
        "lv_epi": False,
    }
    assert geometric_flags(image("p", "ED", epi_mad=3.6), TH) == {"lv_endo": False, "lv_epi": True}
    assert not any(geometric_flags(image("p", "ES", epi_mad=3.9, epi_hd=8.7), TH).values())
    assert geometric_flags(image("p", "ES", endo_hd=8.9), TH) == {"lv_endo": True, "lv_epi": False}
    assert geometric_flags(image("p", "ED", epi_hd=math.nan), TH)["lv_epi"]  # an empty mask counts
    flagged = image("p", "ED", endo_hd=9.0)
    assert (flagged.geometric_lv_endo, flagged.geometric_lv_epi, flagged.geometric) == (True, False, True)
    with pytest.raises(ValueError, match="instant"):
        TH.distance_bounds("EF")


def test_without_reference_no_geometric_flag() -> None:
    record = ImageRecord("m", "p", "2CH", "ED", "Good", **GOOD_SHAPE)
    flags = image_flags(record, TH, has_reference=False)
    assert flags == {
        "anatomical": False,
        "geometric_lv_endo": None,
        "geometric_lv_epi": None,
        "geometric": None,
    }


def test_anatomical() -> None:
    assert not anatomical_outlier(image("p", "ED"), TH)
    assert anatomical_outlier(image("p", "ED", lv_convexity=0.95), TH)
    assert anatomical_outlier(image("p", "ED", epi_simplicity=0.5), TH)
    assert anatomical_outlier(image("p", "ED", epi_convexity=math.nan), TH)
    assert not anatomical_outlier(image("p", "ED", lv_convexity=0.95), OutlierThresholds(lv_convexity=0.9))
    on_region = OutlierThresholds(myo_shape_structure="myo")
    assert anatomical_outlier(image("p", "ED"), on_region)  # the horseshoe region fails 0.529 / 0.694
    assert not anatomical_outlier(image("p", "ED", myo_simplicity=0.6, myo_convexity=0.7), on_region)
    assert not anatomical_outlier(GOOD_SHAPE, TH)  # a mapping (the QC's form) works as well
    with pytest.raises(ValueError, match="myo_shape_structure"):
        OutlierThresholds(myo_shape_structure="atrium")


def test_patient_flags_follow_the_eight_scores_of_each_structure() -> None:
    rows = [
        image("a", "ED"), image("a", "ES", epi_hd=9.0),  # LV_Epi only
        image("b", "ED", lv_simplicity=0.5), image("b", "ES"),  # anatomical only
        image("c", "ED", endo_hd=9.0), image("c", "ES", epi_convexity=0.1),  # both (different images)
        image("d", "ED"), image("d", "ES", view="4CH"),  # clean
    ]  # fmt: skip
    found = {p.patient: p for p in patient_records(rows)}
    a, b, c, d = (found[k] for k in "abcd")
    assert (a.geometric_lv_endo, a.geometric_lv_epi, a.geometric, a.anatomical, a.both) == (
        False, True, True, False, False)  # fmt: skip
    assert (b.geometric, b.anatomical, b.both) == (False, True, False)
    assert (c.geometric_lv_endo, c.geometric_lv_epi, c.geometric, c.both) == (True, False, True, True)
    assert (d.geometric, d.anatomical, d.images) == (False, False, 2)
    text = TH.describe()
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
