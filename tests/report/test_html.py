import base64
import csv
import io
import json
import re
import shutil
from html.parser import HTMLParser

import pytest
from PIL import Image

from lunet.report import ReportInputError, write_report
from lunet.report.html import ensure_evaluation

PNG_PREFIX = "data:image/png;base64,"


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(text: str) -> list[tuple[str, dict]]:
    parser = _Collector()
    parser.feed(text)
    return parser.tags


def test_report_is_one_self_contained_file(fake_report):
    text = fake_report.read_text(encoding="utf-8")
    tags = _tags(text)
    images = [attrs for tag, attrs in tags if tag == "img"]
    assert len(images) == 6  # clinical, distances, outliers, gallery, side-by-side, sequence curves
    for attrs in images:
        assert attrs["src"].startswith(PNG_PREFIX), attrs["src"][:40]
        png = base64.b64decode(attrs["src"][len(PNG_PREFIX) :], validate=True)
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        with Image.open(io.BytesIO(png)) as image:
            image.verify()
    assert not [tag for tag, _ in tags if tag in ("script", "link", "iframe", "object")]
    external = [
        a for _, attrs in tags for k, a in attrs.items() if k in ("src", "href") and "://" in (a or "")
    ]
    assert external == []
    assert fake_report.stat().st_size < 5e6
    assert not [p for p in fake_report.parent.iterdir() if p.name != "report.html"]  # no temp files left


def test_report_header_banner_and_thresholds(fake_report, fake_setup):
    text = fake_report.read_text(encoding="utf-8")
    assert "SYNTHETIC phantom data — not CAMUS" in text
    assert str(fake_setup["run_a"]) in text and str(fake_setup["run_b"]) in text
    assert "<td>0.05</td>" in text and "<td>3</td>" in text  # margin and epochs from config.json
    # one block per distinct set of bounds: run A's evaluation (by the report) takes the anatomical bounds
    # from its references through the 64×64 network grid (synthetic data), run B was evaluated with Table I's
    blocks = re.findall(r'<div class="thresholds">(.*?)</div>', text)
    assert len(blocks) == 2
    geometric = (("ed_mad_mm", "3.5"), ("ed_hd_mm", "8.2"), ("es_mad_mm", "4"), ("es_hd_mm", "8.8"))
    table_i = (("lv_simplicity", "0.741"), ("lv_convexity", "0.96"), ("myo_simplicity", "0.529"))
    table_i += (("myo_convexity", "0.694"),)
    (resampled,) = [b for b in blocks if "round trip through the 64×64 network grid" in b]
    (paper,) = [b for b in blocks if b is not resampled]
    assert "Runs: unet1" in resampled and "Runs: lunet" in paper and "RU-Net Table I" in paper
    for block in blocks:
        for key, value in geometric + (() if block is resampled else table_i):
            assert f"<td>{key}</td><td>{value}</td>" in block, (key, block)
    assert "<td>lv_simplicity</td><td>0.741</td>" not in resampled
    assert "method-notes" not in text  # no link to files outside the repository


def test_tables_have_rows_of_both_runs(fake_report):
    text = fake_report.read_text(encoding="utf-8")
    for key in ("table1", "table2", "table3", "table4"):
        start = text.index(f'id="{key}"')
        table = text[start : text.index("</table>", start)]
        assert "<td>lunet</td><td>lunet-o2</td>" in table and "lunet-o1" not in table, key
        if key != "table1":  # run A (unet1) has no boxes, so no localization row
            assert "<td>unet1</td><td>unet1</td>" in table, key
            start = text.index(f'id="{key}-o1"')
            assert "<td>lunet</td><td>lunet-o1</td>" in text[start : text.index("</table>", start)], key
    assert "<th>Epi d_H mm</th>" in text and "<th>EDV ml corr</th>" in text
    assert "<th>geo. images (paper)</th>" in text and "<th>geo. patients Endo</th>" in text
    assert "Strata of fewer than 5 patients, not shown: unet1 Good (3)" in text  # 3 patients, all Good
    assert "LU-Net (TUFFC 2020) Table II" in text and "reference only" in text
    assert text.count("LU-Net (TUFFC 2020) Table IV</h3>") == 1  # the papers' tables once, not per run
    assert "good + medium quality patients, as Table III" in text  # the plots say which patients they show


def test_sections_in_reading_order(fake_report):
    """The answer first (the summary is the first table), then the gallery, the papers, the rest; the
    secondary material folded."""
    text = fake_report.read_text(encoding="utf-8")
    order = ["synthetic-banner", "summary", "gallery", "paper", "clinical", "distances", "tables",
             "sequences", "method"]  # fmt: skip
    positions = [text.index(f'id="{key}"') for key in order]
    assert positions == sorted(positions)
    assert text.index("<table") == text.index('<table id="summary-table"')
    for folded in ("thresholds", "configs", "strata"):
        assert f'<details id="{folded}">' in text
    assert "@media print" in text


def test_real_data_has_no_banner_and_data_dir_overrides_config(camus_folder, run_folder, tmp_path):
    real = camus_folder(tmp_path / "camus", synthetic=False)
    run = run_folder(tmp_path / "run", "unet1", real, 0, two_outputs=False, evaluated=True)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps(config | {"data": str(tmp_path / "moved_away")}))
    text = write_report([run], tmp_path / "out" / "r.html").read_text(encoding="utf-8")
    assert "SYNTHETIC" not in text and "no image data folder found" in text  # config's data is gone
    assert sum(tag == "img" for tag, _ in _tags(text)) == 3  # no gallery
    assert "CAMUS data: our figures beside the published ones" in text and "U-Net1 (unet1)" in text
    assert re.search(r"<td>\d\.\d{3} / 0\.920</td>", text)  # ours / paper: U-Net1's LV_Endo Dice
    text = write_report([run], tmp_path / "out" / "r.html", data_dir=real).read_text(encoding="utf-8")
    assert "SYNTHETIC" not in text and str(real) in text
    assert sum(tag == "img" for tag, _ in _tags(text)) == 4  # the gallery found the images in ``real``


def test_missing_runs_are_clear_errors(tmp_path):
    with pytest.raises(ReportInputError, match="at least one run"):
        write_report([], tmp_path / "r.html")
    with pytest.raises(ReportInputError, match=r"nope: run folder not found"):
        write_report([tmp_path / "nope"], tmp_path / "r.html")


def test_a_run_without_evaluation_is_evaluated_first(fake_setup, tmp_path):
    """A real evaluation of a small run (two outputs, 3 patients): the per-image scores of the fixture's."""
    run = tmp_path / "run"
    shutil.copytree(fake_setup["run_b"], run)
    saved = tmp_path / "saved_evaluation"
    shutil.move(run / "evaluation", saved)
    ensure_evaluation(run)
    tables = run / "evaluation" / "tables.json"
    assert tables.is_file() and json.loads(tables.read_text())["table1"]

    def scores(folder):
        with open(folder / "per_image.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        keep = [k for k in rows[0] if "dice" in k or k.endswith("_mm") or k == "model"]
        return [{k: r[k] for k in keep} for r in rows]

    made, before = scores(run / "evaluation"), scores(saved)
    assert len(made) == 24 and {r["model"] for r in made} == {"lunet-o1", "lunet-o2"}  # 3 patients × 4 × 2
    assert made == before  # distances and Dice do not depend on the outlier bounds
    stamp = tables.stat().st_mtime_ns
    ensure_evaluation(run)  # already there: not run again
    assert tables.stat().st_mtime_ns == stamp


def test_cli_reports_bad_input_in_one_line(tmp_path, capsys):
    from lunet.cli import main

    assert main(["report", str(tmp_path / "nope"), "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lunet report: error:") and "nope: run folder not found" in err and "\n" not in err
    assert not (tmp_path / "r.html").exists()
