"""The report's whole-sequence section: a table from evaluation/sequence.json, the curves, none without."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from lunet.report.sequence import curves_figure, sequence_section


@dataclass
class _Run:
    run_dir: Path
    label: str


def _run(tmp_path: Path, name: str, summary: dict | None) -> _Run:
    folder = tmp_path / name
    (folder / "evaluation").mkdir(parents=True)
    if summary is not None:
        curve = {"patient": "patient0001", "view": "4CH", "pred_area_mm2": [900.0, 800.0, 700.0],
                 "ed_frames": [1], "es_frames": [3], "ref_ed": 1, "ref_es": 3}  # fmt: skip
        data = {"summary": summary, "curves": [curve]}
        (folder / "evaluation" / "sequence.json").write_text(json.dumps(data))
    return _Run(folder, name)


def test_section_lists_each_evaluated_run_with_its_figure(tmp_path):
    runs = [
        _run(
            tmp_path,
            "unet1",
            {"sequences": 3, "lv_endo_dice": 0.912, "ed_abs_error_frames": 0.33, "synthetic": True},
        ),
        _run(tmp_path, "plain", None),
    ]
    text = sequence_section(runs, [False, False])
    assert 'id="sequences"' in text and "unet1 (SYNTHETIC)" in text and "plain" not in text
    assert "<td>0.912</td>" in text and "<td>0.33</td>" in text and "<td>–</td>" in text
    png = re.search(r'src="data:image/png;base64,([^"]+)"', text)
    assert png is not None


def test_no_section_without_sequence_evaluations(tmp_path):
    assert sequence_section([_run(tmp_path, "a", None)], [True]) == ""


def test_curves_figure_is_a_png():
    png = curves_figure(
        [{"pred_area_mm2": [3.0, 2.0, 1.0], "ref_area_mm2": [3.0, 2.5, 1.0], "ed_frames": [1]}]
    )
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG" and image.width > 100
    assert curves_figure([]) is None
