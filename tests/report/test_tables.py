from lunet.evaluation.display import count, mean_sd
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
