"""The evaluation files' schema: exact columns, round trip, refusal of other layouts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lunet.evaluation.schema import (
    ClinicalRecord,
    ImageRecord,
    PatientRecord,
    SchemaError,
    columns,
    read_records,
    record_from,
    write_records,
)


def test_columns_are_the_fields_in_order() -> None:
    assert columns(PatientRecord) == ("model", "patient", "quality", "images", "geometric_lv_endo",
                                      "geometric_lv_epi", "geometric", "anatomical", "both")  # fmt: skip
    assert columns(ClinicalRecord)[3:6] == ("edv_ml", "esv_ml", "ef_percent")
    assert {"lv_epi_hd_mm", "ref_epi_convexity", "bb_out", "geometric_lv_endo"} <= set(columns(ImageRecord))


def test_round_trip_keeps_types_nan_and_missing_flags(tmp_path) -> None:
    images = [
        record_from(ImageRecord, {"model": "m", "patient": "p1", "view": "2CH", "instant": "ED",
                                  "quality": "Good", "lv_endo_dice": np.float64(0.9), "lv_holes": np.int64(1),
                                  "bb_out": False, "geometric": True, "anatomical": True}),
        ImageRecord("m", "p2", "4CH", "ES", "Poor"),  # no reference: NaN scores, None flags
    ]  # fmt: skip
    write_records(tmp_path / "per_image.csv", images, ImageRecord)
    back = read_records(tmp_path / "per_image.csv", ImageRecord)
    assert (back[0].lv_endo_dice, back[0].lv_holes, back[0].bb_out, back[0].geometric) == (
        0.9,
        1,
        False,
        True,
    )
    assert type(back[0].lv_endo_dice) is float and back[0].anatomical and back[0].key == ("p1", "2CH", "ED")
    assert math.isnan(back[1].lv_endo_dice) and back[1].geometric is None and back[1].bb_out is None
    assert not back[1].has_reference and back[0].has_reference


def test_other_layouts_are_refused(tmp_path) -> None:
    path = tmp_path / "per_patient.csv"
    path.write_text("model,patient,geometric\nm,p,1\n")
    with pytest.raises(SchemaError, match=r"per_patient\.csv: columns differ .*missing \['quality'"):
        read_records(path, PatientRecord)
    write_records(path, [PatientRecord("m", "p", "Good", 4)], PatientRecord)
    path.write_text(path.read_text().replace(",4,", ",four,"))
    with pytest.raises(SchemaError, match="line 2, column images"):
        read_records(path, PatientRecord)
    with pytest.raises(SchemaError, match="not found"):
        read_records(tmp_path / "missing.csv", PatientRecord)
    with pytest.raises(SchemaError, match="no field for"):
        record_from(PatientRecord, {"model": "m", "patient": "p", "quality": "Good", "images": 4, "dice": 1})
