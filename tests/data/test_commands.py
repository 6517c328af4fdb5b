"""`lunet data summary`, `lunet folds`, `lunet preprocess` end to end on tiny fixtures."""

from __future__ import annotations

import json

import pytest

from lunet.cli import main
from lunet.data.summary import summarize


def test_summary_json(mhd_root, capsys):
    assert main(["data", "summary", str(mhd_root), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["release"] == "mhd2019" and summary["patients"] == 3 and summary["images"] == 12
    assert summary["with_ground_truth"] == 2
    assert summary["quality"] == {"Good": 3, "Medium": 0, "Poor": 0}
    assert summary["ef_category"] == {"<=45": 0, "45-55": 1, ">=55": 2, "unknown": 0}
    assert summary["rows"] == {"min": 64, "median": 64, "max": 64}
    assert summary["col_mm"]["median"] == pytest.approx(0.154)


def test_summary_text_lists_skipped_patients(nifti_root, capsys):
    (nifti_root / "database_nifti" / "patient0003" / "Info_4CH.cfg").unlink()
    assert main(["data", "summary", str(nifti_root)]) == 0
    out = capsys.readouterr().out
    assert "release:           nifti" in out and "patients:          2 (2 with ground truth)" in out
    assert "skipped (1):" in out and "Info_4CH.cfg" in out
    assert summarize(nifti_root)["quality"] == {"Good": 1, "Medium": 1, "Poor": 0}


def test_summary_of_empty_folder_is_one_line_error(tmp_path, capsys):
    assert main(["data", "summary", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lunet data: error:") and "no usable CAMUS patient folder" in err


def test_folds_command(nifti_root, tmp_path, capsys):
    out = tmp_path / "folds"
    assert main(["folds", str(nifti_root), "--out", str(out), "--n-folds", "3", "--seed", "1"]) == 0
    assert sorted(p.name for p in out.iterdir())[:3] == [
        "subGroup1_testing.txt", "subGroup1_training.txt", "subGroup1_validation.txt"
    ]  # fmt: skip
    assert len(list(out.iterdir())) == 9


def test_preprocess_command(nifti_root, tmp_path, capsys):
    cache = tmp_path / "cache"
    assert main(["preprocess", str(nifti_root), "--cache", str(cache), "--size", "16", "--workers", "1"]) == 0
    assert "12 images at 16x16" in capsys.readouterr().out
    assert (cache / "complete.json").is_file()


def test_summary_and_volumes_say_synthetic_on_phantom_data(nifti_root, capsys):
    assert main(["data", "summary", str(nifti_root)]) == 0
    assert "SYNTHETIC" not in capsys.readouterr().out
    patient = next(nifti_root.rglob("patient0001"))
    (patient / "phantom_truth.json").write_text("{}")  # what `lunet synth` writes in each patient folder
    assert main(["data", "summary", str(nifti_root)]) == 0
    assert capsys.readouterr().out.startswith("*** SYNTHETIC phantom data — not CAMUS ***")
    assert main(["data", "summary", str(nifti_root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["synthetic"] is True
    assert main(["volumes", str(nifti_root)]) == 0
    assert capsys.readouterr().out.startswith("*** SYNTHETIC phantom data — not CAMUS ***")
    assert main(["volumes", str(nifti_root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["data_note"] == "SYNTHETIC phantom data — not CAMUS"


def test_preprocess_frames_all_caches_every_annotated_sequence_frame(nifti_root, tmp_path, capsys):
    cache = tmp_path / "cache_all"
    args = ["preprocess", str(nifti_root), "--cache", str(cache), "--size", "16", "--workers", "1"]
    assert main([*args, "--frames", "all"]) == 0
    assert "42 frames (ED/ES, then every annotated sequence frame) at 16x16" in capsys.readouterr().out
    entries = json.loads((cache / "index.json").read_text())["entries"]
    assert sum(e["instant"] == "sequence" for e in entries) == 3 * 2 * 5


def test_summary_and_preprocess_take_the_size_limits(nifti_root, tmp_path, capsys):
    assert main(["data", "summary", str(nifti_root), "--json", "--max-pixels", "100"]) == 0
    unreadable = json.loads(capsys.readouterr().out)["unreadable"]
    assert len(unreadable) == 12
    assert all("pixels per frame" in u and "beyond the limit" in u for u in unreadable)
    assert all(u.endswith("(lunet data summary --max-pixels raises it)") for u in unreadable)
    assert main(["data", "summary", str(nifti_root), "--json", "--max-pixels", "1e6"]) == 0
    assert json.loads(capsys.readouterr().out)["unreadable"] == []
    cache = tmp_path / "cache"
    args = ["preprocess", str(nifti_root), "--cache", str(cache), "--size", "16", "--workers", "1"]
    assert main([*args, "--frames", "all", "--max-frames", "4"]) == 2  # the 5-frame sequences are refused
    assert "every patient was skipped" in capsys.readouterr().err
    skipped = json.loads((cache / "index.json").read_text())["skipped"]
    assert len(skipped) == 3 and all("5 frames is beyond the limit of 4" in str(s) for s in skipped)
    assert all("(lunet preprocess --max-frames raises it)" in str(s) for s in skipped)
