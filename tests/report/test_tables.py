from lunet.evaluation.display import agreement_cells, count, mean_sd
from lunet.report.tables import merged_tables, tables_html


def test_cells_are_formatted_like_the_paper():
    assert mean_sd({"mean": 0.9204, "sd": 0.0561}, 3) == "0.920 ± 0.056"
    assert mean_sd({"mean": 1.74, "sd": None}) == "1.7"
    assert mean_sd({"mean": None, "sd": None}) == "–"
    assert count({"count": 21, "total": 160, "percent": 13.125}) == "21 (13.1 %)"
    assert count({"count": 0, "total": 0, "percent": None}) == "–"


def test_rows_of_every_run_in_one_table(fake_setup):
    import json

    tables = json.loads((fake_setup["run_b"] / "evaluation" / "tables.json").read_text())
    merged = {t.key: t for t in merged_tables([("run A", tables), ("run B", tables)])}
    t2 = merged["table2"]
    assert t2.header[:3] == ["run", "model", "patients"] and "geo. images (paper)" in t2.header
    assert [r[:2] for r in t2.rows] == [["run A", "lunet-o1"], ["run A", "lunet-o2"], ["run B", "lunet-o1"],
                                        ["run B", "lunet-o2"]]  # fmt: skip
    assert merged["table3"].header[:4] == ["run", "model", "reference", "patients"]
    assert "quality" in merged["table2_quality"].header
    paper = merged["paper"]
    assert "reference only" in paper.title and "ours" not in paper.header  # synthetic: never compared
    text = tables_html([("run A", tables)])
    assert text.count('<table class="paper"') == 7 and "never compared" in text


def test_quality_strata_of_fewer_than_five_patients_show_no_correlation(fake_setup):
    import json

    tables = json.loads((fake_setup["run_b"] / "evaluation" / "tables.json").read_text())
    merged = {t.key: t for t in merged_tables([("run B", tables)])}
    header = merged["table3_quality"].header
    rows = merged["table3_quality"].rows
    strata = list(tables["table3_quality"]["rows"])
    assert rows and all(r["ef_percent"]["n"] < 5 for r in strata)  # the fake runs hold 2–4 patients
    for row, stratum in zip(rows, strata):
        n = stratum["ef_percent"]["n"]
        assert row[header.index("EF % corr")] == row[header.index("EF % loa")] == f"— (n={n})"
        assert row[header.index("EF % mae")] != f"— (n={n})"  # the MAE of a few patients is still shown
    # the overall Table III (good + medium, as few patients) keeps its correlation: the rule is for strata
    t3 = merged["table3"]
    row = next(r for r in t3.rows if r[1] == "lunet-o2" and r[2] == "truth")
    assert not row[t3.header.index("EF % corr")].startswith("—")


def test_agreement_cells_blank_correlation_below_the_minimum():
    stat = {"n": 3, "corr": 1.0, "bias": 0.5, "sd": 0.1, "mae": 0.5, "mae_ci": [None, None]}
    assert agreement_cells(stat, min_patients=5) == ["— (n=3)", "— (n=3)", "0.5"]
    assert agreement_cells(stat | {"n": 5}, min_patients=5)[:2] == ["1.000", "0.5 ± 0.2"]
