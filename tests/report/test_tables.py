from lunet.evaluation.display import agreement_cells, count, mean_sd
from lunet.report.tables import comparison_html, comparison_tables, merged_tables, metric_name, tables_html


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
    text = tables_html([("run A", tables)])
    # Tables I–IV shown; the papers' figures are not repeated per run here (comparison_html shows them once)
    assert all(f'id="table{k}"' in text for k in "1234") and 'class="paper"' not in text
    # LU-Net's coarse output folded: its rows only in the -o1 tables, inside <details>
    main = text[text.index('id="table2"') : text.index("</table>", text.index('id="table2"'))]
    assert "lunet-o1" not in main and "lunet-o2" in main
    folded = text[text.index('id="table2-o1"') - 200 : text.index('id="table2-o1"')]
    assert "<details><summary>LU-Net's coarse output (o1), 1 row(s)</summary>" in folded


def test_paper_tables_are_shown_once_with_ours_beside_the_paper(fake_setup, tmp_path):
    import json

    from lunet.evaluation.paper import paper_comparison

    tables = json.loads((fake_setup["run_b"] / "evaluation" / "tables.json").read_text())
    # synthetic: the paper's figure alone, even with the same run twice (shown once, not per run)
    once = comparison_tables([("run A", tables), ("run B", tables)])
    assert [t.title for t in once] == [t.title for t in comparison_tables([("run B", tables)])]
    table4 = next(t for t in once if t.title == "LU-Net (TUFFC 2020) Table IV")
    assert table4.header == ["paper model", "Endo d_m", "Endo d_H", "Epi d_m", "Epi d_H", "geo. img %",
                             "ana. img %", "both img %"]  # fmt: skip
    assert table4.rows[1] == ["LU-Net-m5 (lunet-o2)", "1.8", "5.7", "1.6", "5.3", "12.0", "1.6", "1.0"]
    text = comparison_html([("run A", tables), ("run B", tables)])
    assert (
        text.count("<table") == len(once) and "reference only" in text and " / " not in text.split("</p>")[-1]
    )
    # CAMUS data: cells read "ours / paper", ours from our Table IV row of that model
    real = tables | {"paper": paper_comparison(tables | {"synthetic": False}, margin=0.05)}
    table4 = next(t for t in comparison_tables([("run", real)]) if t.title.endswith("Table IV"))
    ours = next(r for r in tables["table4"]["rows"] if r["model"] == "lunet-o2")["lv_epi_hd_mm"]["mean"]
    assert table4.rows[1][4] == f"{ours:.1f} / 5.3"
    intra = next(t for t in comparison_tables([("run", real)]) if t.title.endswith("Table II")).rows[0]
    assert intra[0] == "intra-observer" and intra[1] == "0.937"  # no number of ours: the paper's alone


def test_metric_names_are_short_and_known():
    assert metric_name("lv_endo_hd_mm.mean") == "Endo d_H"
    assert metric_name("lv_epi_dice ES") == "Epi D ES"
    assert metric_name("ef_percent.loa") == "EF 1.96 SD"
    assert metric_name("geometric_images.percent") == "geo. img %"
    assert metric_name("something.else") == "something.else"


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
    # in the report, such strata are one line, not rows of dashes
    text = tables_html([("run B", tables)])
    strata = text[text.index('<details id="strata">') :]
    assert "Strata of fewer than 5 patients, not shown: lunet-o1 Good (3), lunet-o2 Good (3)." in strata
    assert 'id="table3_quality"' not in strata and "— (n=" not in strata


def test_agreement_cells_blank_correlation_below_the_minimum():
    stat = {"n": 3, "corr": 1.0, "bias": 0.5, "sd": 0.1, "mae": 0.5, "mae_ci": [None, None]}
    assert agreement_cells(stat, min_patients=5) == ["— (n=3)", "— (n=3)", "0.5"]
    assert agreement_cells(stat | {"n": 5}, min_patients=5)[:2] == ["1.000", "0.5 ± 0.2"]
