"""The CAMUS authors' temporal check in the sequence evaluation, evaluate-folder and the report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from lunet.cli import main
from lunet.data.camus_io import read_sequence, write_image
from lunet.evaluation.sequence import evaluate_sequences


@pytest.fixture(scope="module")
def phantom(tmp_path_factory):
    from lunet.data.synthetic.generate import generate_dataset

    root = generate_dataset(tmp_path_factory.mktemp("phantom"), 1, size="256", workers=1, progress=False,
                            sequence_frames="realistic", seed=11)  # fmt: skip
    return root


def _predictions(root: Path, out: Path, corrupt_view: str) -> int:
    """The reference label series written as ``lunet predict --sequence`` output, one view corrupted (ED
    inserted mid-systole instead of the frame there); returns the 1-based corrupted frame."""
    folder = next(root.rglob("patient0001"))
    corrupted = 0
    for view in ("2CH", "4CH"):
        labels, spacing = read_sequence(folder / f"patient0001_{view}_half_sequence_gt.nii.gz")
        if view == corrupt_view:
            corrupted = labels.shape[0] // 2
            labels = labels.copy()
            labels[corrupted] = labels[0]
        name = f"patient0001_{view}_half_sequence"
        write_image(out / "masks" / f"{name}.nii.gz", labels.astype(np.uint8), spacing)
        area = (labels == 1).reshape(len(labels), -1).sum(1) * spacing[0] * spacing[1]
        ed, es = int(np.argmax(area)) + 1, int(np.argmin(area)) + 1
        record = {"patient_id": "patient0001", "view": view, "mask": f"masks/{name}.nii.gz",
                  "ed_frames": [ed], "es_frames": [es]}  # fmt: skip
        (out / "sequences").mkdir(parents=True, exist_ok=True)
        (out / "sequences" / f"{name}.json").write_text(json.dumps(record))
    return corrupted + 1


def test_evaluation_flags_the_corrupted_sequence_not_the_reference(phantom, tmp_path, capsys):
    frame = _predictions(phantom, tmp_path / "pred", "4CH")
    result = evaluate_sequences(tmp_path / "pred", phantom, tmp_path / "eval")
    rows = {r["view"]: r for r in result["sequences"]}
    assert rows["2CH"]["temporal_flagged"] == 0 and rows["2CH"]["ref_temporal_flagged"] == 0
    assert rows["4CH"]["temporal_flagged"] >= 1 and rows["4CH"]["ref_temporal_flagged"] == 0
    assert str(frame) in rows["4CH"]["temporal_flagged_frames"].split(";")
    summary = result["summary"]
    assert summary["sequences_temporally_flagged"] == 1 and summary["ref_temporal_flag_share"] == 0.0
    curves = {c["view"]: c for c in result["curves"]}
    assert frame in curves["4CH"]["temporal_flagged_frames"]
    code = main(["evaluate-folder", "--pred", str(tmp_path / "pred"), "--ref", str(phantom),
                 "--out", str(tmp_path / "eval2")])  # fmt: skip
    assert code == 0 and "1 of 2 sequences flagged" in capsys.readouterr().out


def test_report_line_of_the_temporal_check(phantom, tmp_path):
    from lunet.report.sequence import sequence_section

    @dataclass
    class Run:
        run_dir: Path
        label: str

    _predictions(phantom, tmp_path / "pred", "2CH")
    evaluate_sequences(tmp_path / "pred", phantom, tmp_path / "run" / "evaluation")
    text = sequence_section([Run(tmp_path / "run", "unet1")], [True])
    assert "Temporal check (unet1" in text and "1 of 2 sequences flagged" in text
    assert "(reference 0.0 %)" in text


def test_phantom_multibeat_cines_are_not_scored_as_half_sequences(phantom, tmp_path):
    """A ``*_cine`` prediction (several beats) beside the half sequences: left out, not an error."""
    _predictions(phantom, tmp_path / "pred", "4CH")
    cine = json.loads((tmp_path / "pred" / "sequences" / "patient0001_2CH_half_sequence.json").read_text())
    cine["input"] = "data/patient0001/patient0001_2CH_cine.nii.gz"
    (tmp_path / "pred" / "sequences" / "patient0001_2CH_cine.json").write_text(json.dumps(cine))
    result = evaluate_sequences(tmp_path / "pred", phantom, tmp_path / "eval")
    assert result["summary"]["sequences"] == 2
