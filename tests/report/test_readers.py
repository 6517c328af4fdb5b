import math

import pytest

from lunet.report.columns import (
    ReportInputError,
    metric_of,
    outlier_counts,
    parse_clinical,
    parse_per_image,
    structure_of,
)
from lunet.report.readers import data_dir_of, is_synthetic, load_run, read_boxes, unique_labels
from lunet.report.series import series_of
from lunet.report.thresholds import DEFAULT_THRESHOLDS, geometric_bounds, outlier_thresholds


@pytest.mark.parametrize(
    ("column", "metric", "structure"),
    [
        ("lv_endo_dice", "dice", "LV_Endo"),
        ("LV_Epi d_H (mm)", "dh", "LV_Epi"),
        ("lv_epi_hausdorff_mm", "dh", "LV_Epi"),
        ("lv_endo_dm_mm", "dm", "LV_Endo"),
        ("LV_Endo mean_distance_mm", "dm", "LV_Endo"),
        ("quality", None, None),
        ("lv_epi_convexity", None, "LV_Epi"),
    ],
)
def test_column_names_are_understood(column, metric, structure):
    assert metric_of(column) == metric
    assert structure_of(column) == structure


def test_long_and_wide_per_image_give_the_same_scores():
    key = {"patient": "patient0001", "view": "2CH", "instant": "ED"}
    wide = [
        key
        | {"lv_endo_dice": "0.9", "lv_endo_hd_mm": "5", "lv_endo_dm_mm": "1.5"}
        | {"lv_epi_dice": "0.95", "lv_epi_hd_mm": "6", "lv_epi_dm_mm": ""}
    ]
    long = [
        key | {"structure": "LV_Endo", "dice": "0.9", "d_m_mm": "1.5", "d_H_mm": "5"},
        key | {"structure": "LV_Epi", "dice": "0.95", "d_m_mm": "nan", "d_H_mm": "6"},
        key | {"structure": "Myo", "dice": "0.7", "d_m_mm": "1", "d_H_mm": "2"},
    ]
    for rows in (wide, long):
        (image,) = parse_per_image(rows)
        assert (image["patient"], image["view"], image["instant"]) == ("patient0001", "2CH", "ED")
        assert image["LV_Endo"] == {"dice": 0.9, "dm": 1.5, "dh": 5.0}
        assert image["LV_Epi"]["dh"] == 6.0 and math.isnan(image["LV_Epi"]["dm"])


def test_per_image_without_patient_column_is_an_error():
    with pytest.raises(ReportInputError, match=r"x\.csv: no patient column"):
        parse_per_image([{"dice": "1"}], "x.csv")


def test_clinical_pairs_and_outlier_counts():
    row = {"patient": "p1", "edv_pred_ml": "100", "edv_ref_ml": "110", "esv_ml": "3"}
    rows = [row | {"ef_predicted": "50", "ef_reference": "55"}]
    (parsed,), refs = parse_clinical(rows)
    assert parsed == {"model": "", "patient": "p1", "edv": (100.0, 110.0), "ef": (50.0, 55.0)}  # esv: no pair
    assert refs == {"edv": "edv_ref_ml", "ef": "ef_reference"}
    flags = [
        {"model": "m", "patient": "a", "geometric": "1", "anatomical": "1", "both": "1"},
        {"model": "m", "patient": "b", "geometric": "0", "anatomical": "1", "both": "0"},
        {"model": "n", "patient": "a", "geometric": "1", "anatomical": "0", "both": "0"},
    ]
    assert outlier_counts(flags, "m") == {"geometric": 1, "anatomical": 2, "both": 1}
    assert outlier_counts(flags) == {"geometric": 2, "anatomical": 2, "both": 1}
    no_both = [{"patient": "a", "geometric_outlier": "True", "anatomical_outlier": "True"}]
    assert outlier_counts(no_both) == {"geometric": 1, "anatomical": 1, "both": 1}
    assert outlier_counts([]) == {}


def test_clinical_columns_of_lunet_evaluation_prefer_simpson():
    base = {
        "model": "unet1",
        "patient": "p1",
        "quality": "Good",
        "edv_ml": "100",
        "esv_ml": "40",
        "ef_percent": "60",
    }
    refs = {"simpson_edv_ml": "nan", "simpson_esv_ml": "42", "simpson_ef_percent": "58", "cfg_edv_ml": "105"}
    refs |= {"cfg_esv_ml": "nan", "cfg_ef_percent": "nan", "truth_edv_ml": "99", "truth_esv_ml": "41"}
    (parsed,), used = parse_clinical([base | refs])
    # EDV: Simpson is NaN everywhere, so the cfg value is used; ESV, EF: Simpson
    assert used == {"edv": "cfg_edv_ml", "esv": "simpson_esv_ml", "ef": "simpson_ef_percent"}
    assert parsed == {"model": "unet1", "patient": "p1", "edv": (100.0, 105.0), "esv": (40.0, 42.0),
                      "ef": (60.0, 58.0)}  # fmt: skip


def test_boxes_csv(tmp_path):
    path = tmp_path / "boxes.csv"
    path.write_text("patient,view,instant,x_min,y_min,x_max,y_max\npatient0001,2CH,ED,0.1,0.2,0.3,0.4\n")
    assert read_boxes(path) == {("patient0001", "2CH", "ED"): (0.1, 0.2, 0.3, 0.4)}
    path.write_text("patient,view,instant,x_min,y_min,x_max,y_max\npatient0001,2CH,ED,0.1,oops,0.3,0.4\n")
    with pytest.raises(ReportInputError, match=r"boxes\.csv: bad row"):
        read_boxes(path)


def test_synthetic_detection_and_labels(tmp_path):
    data = tmp_path / "data"
    (data / "patient0001").mkdir(parents=True)
    assert not is_synthetic({}, data)
    assert is_synthetic({"synthetic": True}, None)
    (data / "patient0001" / "phantom_truth.json").write_text("{}")
    assert is_synthetic({}, data)
    assert data_dir_of({"data": str(data)}, tmp_path) == data
    assert data_dir_of({"data": "data"}, tmp_path) == tmp_path / "data"  # relative to the run folder
    assert data_dir_of({"data": str(tmp_path / "missing")}, tmp_path) is None
    runs = [tmp_path / "a", tmp_path / "b", tmp_path / "c"]
    assert unique_labels(runs, [{"model": "unet1"}, {"model": "unet1"}, {"model": "lunet"}]) == [
        "unet1 (a)", "unet1 (b)", "lunet"]  # fmt: skip


def test_thresholds_prefer_the_evaluation_output():
    custom = {"ed_mad_mm": 3.1, "ed_hd_mm": 8.0, "es_mad_mm": 4.2, "es_hd_mm": 9.0, "lv_simplicity": 0.7}
    found, text, source = outlier_thresholds({"thresholds": custom, "thresholds_text": "custom bounds"})
    assert (found, text) == (custom, "custom bounds") and "tables.json" in source
    assert geometric_bounds(custom) == {"dm": [3.1, 4.2], "dh": [8.0, 9.0]}
    assert geometric_bounds({"ED": {"d_m": 3.5, "d_H": 8.2}, "ES": {"d_m": 4.0, "d_H": 8.8}}) == {
        "dm": [3.5, 4.0], "dh": [8.2, 8.8]}  # fmt: skip
    found, text, source = outlier_thresholds({})  # from lunet.evaluation.outliers (or the report's copy)
    assert {k: found[k] for k in DEFAULT_THRESHOLDS} == DEFAULT_THRESHOLDS
    assert "our reading" in text and "defaults" in source


def test_load_run_reads_the_hand_written_run(fake_setup):
    run = load_run(fake_setup["run_b"])
    assert run.label == "lunet" and run.config["margin"] == 0.05
    assert run.models == ["lunet-o1", "lunet-o2"]
    assert len(run.per_image) == 24 and len(run.clinical) == 6 and len(run.boxes) == 12
    assert run.clinical[0]["edv"] == (98.0, 100.0) and run.clinical_reference["edv"] == "simpson_edv_ml"
    assert run.per_image[0]["LV_Epi"] == {"dice": 0.93, "dm": 1.1, "dh": 2.0}
    o1, o2 = series_of([run])
    assert (o1.label, o2.label) == ("lunet-o1", "lunet-o2")
    assert o1.pred_dir.name == "predictions_o1" and o2.pred_dir.name == "predictions"
    assert o1.boxes == {} and len(o2.boxes) == 12  # boxes belong to the final output
    assert o1.outliers == ({"geometric": 1, "anatomical": 1, "both": 0}, 3)
    assert len(o1.per_image) == 12 and len(o2.clinical) == 3
