from lunet.report.tables import flatten_row, format_cell, merged_table, pretty, tables_html


def test_cells_are_formatted_like_the_paper():
    assert format_cell({"mean": 0.9204, "sd": 0.0561}) == "0.920 ± 0.056"
    assert format_cell({"mean": 1.74, "sd": 1.2}) == "1.74 ± 1.20"
    assert format_cell({"count": 21, "percent": 13.04}) == "21 (13.0 %)"
    assert format_cell(423) == "423"
    assert pretty("lv_epi_hd_mm") == "LV_Epi d_H (mm)" and pretty("geometric_outliers_patients") == (
        "geo. outliers (patients)")  # fmt: skip
    assert format_cell(float("nan")) == "–"
    assert format_cell("U-Net1") == "U-Net1"
    assert flatten_row({"model": "m", "LV_Endo": {"dice": {"mean": 1, "sd": 0}}}) == {
        "model": "m", "LV_Endo dice": {"mean": 1, "sd": 0}}  # fmt: skip


def test_rows_of_every_run_in_one_table():
    a = {"table2": {"title": "seg", "rows": [{"model": "unet1", "D": {"mean": 0.9, "sd": 0.1}}]}}
    b = {"table2": {"title": "seg", "rows": [{"model": "lunet-o1", "D": 0.8}, {"model": "lunet-o2", "x": 2}]}}
    title, header, body = merged_table([("run A", a), ("run B", b)], "table2")
    assert title == "seg" and header == ["run", "model", "D", "x"]
    assert body == [["run A", "unet1", "0.900 ± 0.100", ""], ["run B", "lunet-o1", "0.800", ""],
                    ["run B", "lunet-o2", "", "2"]]  # fmt: skip
    text = tables_html([("run A", a), ("run B", b)])
    assert text.count("<table") == 1 and "No run has this table" in text and "<td>lunet-o2</td>" in text


def test_agreement_becomes_corr_loa_mae_columns():
    row = {"model": "m", "edv_ml": {"mean": 1.0, "sd": 2.0, "corr": 0.95, "bias": 1.0, "mae": 1.5, "n": 3}}
    _, header, body = merged_table([("run", {"table3": {"title": "t3", "rows": [row]}})], "table3")
    assert header == ["run", "model", "EDV (ml) corr", "EDV (ml) loa", "EDV (ml) mae"]
    assert body == [["run", "m", "0.950", "1.00 ± 3.92", "1.50"]]
