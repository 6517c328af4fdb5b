"""Cines as users hand them: any folder, any names, plain ``predict`` on a cine, one set of exit codes."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from inference_helpers import make_bundle, write_dicom
from sequence_helpers import SPACING, disk_cine, half_cycle_radii

from lunet.cli import main
from lunet.data.camus_io import write_image
from lunet.inference.sequence_io import expand_sequence_inputs, group_cines


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return make_bundle(tmp_path_factory.mktemp("model"), "unet1")


def _loops(folder):
    """A flat folder a user might hand over: cines with arbitrary names in three formats, plus clutter."""
    folder.mkdir(parents=True)
    write_image(folder / "loop A.nii.gz", disk_cine(half_cycle_radii(6)), SPACING)
    write_image(folder / "apical4.mhd", disk_cine(half_cycle_radii(5), seed=1), SPACING)
    sub = folder / "exam2"
    sub.mkdir()
    write_dicom(sub / "IM0001", disk_cine(half_cycle_radii(4)).clip(0, 255).astype(np.uint8),
                pixel_spacing=SPACING)  # fmt: skip
    write_image(folder / "still.nii.gz", disk_cine(half_cycle_radii(1))[0], SPACING)  # one frame: not a cine
    write_image(folder / "loop A_gt.nii.gz", np.zeros((6, 64, 64), np.uint8), SPACING)  # a label file
    (folder / "notes.txt").write_text("exam notes")
    return folder


def _predict(bundle, *args):
    return main(["predict", "--model", str(bundle), "--no-progress", "--backend", "torch", *map(str, args)])


def test_any_folder_gives_one_sequence_per_cine(tmp_path):
    groups, errors = expand_sequence_inputs([_loops(tmp_path / "loops")])
    names = sorted(p.name for group in groups for p in group)
    assert errors == [] and all(len(g) == 1 for g in groups)
    assert names == ["IM0001", "apical4.mhd", "loop A.nii.gz"]


def test_camus_names_group_a_patients_views_wherever_they_are(tmp_path):
    names = ("patient0007_4CH_half_sequence.nii.gz", "x.nii.gz", "patient0007_2CH_half_sequence.nii.gz",
             "patient0008_2CH_sequence.mhd")  # fmt: skip
    paths = [tmp_path / n for n in names]
    groups = group_cines(paths)
    assert [[p.name for p in g] for g in groups] == [
        ["patient0007_2CH_half_sequence.nii.gz", "patient0007_4CH_half_sequence.nii.gz"],
        ["x.nii.gz"],
        ["patient0008_2CH_sequence.mhd"],
    ]


def test_sequence_on_a_flat_folder_of_loops(tmp_path, bundle, capsys):
    out = tmp_path / "out"
    assert _predict(bundle, _loops(tmp_path / "loops"), "--sequence", "--out", out) == 0
    assert "3 sequences predicted, 0 failed" in capsys.readouterr().out
    for name, frames in (("loop_A", 6), ("apical4", 5), ("IM0001", 4)):
        record = json.loads((out / "sequences" / f"{name}.json").read_text())
        assert record["frames"] == frames and len(record["ed_frames"]) >= 1
    assert not (out / "patients").exists()


def test_a_flat_folder_of_camus_sequences_still_gives_the_patient(tmp_path, bundle):
    folder = tmp_path / "flat"
    folder.mkdir()
    for view, n in (("2CH", 7), ("4CH", 5)):
        write_image(
            folder / f"patient0003_{view}_half_sequence.nii.gz", disk_cine(half_cycle_radii(n)), SPACING
        )
    out = tmp_path / "out"
    assert _predict(bundle, folder, "--sequence", "--out", out, "--no-overlay") == 0
    patient = json.loads((out / "patients" / "patient0003_sequence.json").read_text())
    assert patient["patient_id"] == "patient0003" and len(patient["beats"]) == 1
    assert set(patient["beats"][0]["ed_frames"]) == {"2CH", "4CH"} and "ef_percent" in patient


def test_sequence_exit_codes_with_a_bad_file_among_good_ones(tmp_path, bundle, capsys):
    folder = _loops(tmp_path / "loops")
    (folder / "broken.nii.gz").write_bytes(b"\x1f\x8b not gzip at all")
    out = tmp_path / "out"
    assert _predict(bundle, folder, "--sequence", "--out", out, "--no-overlay") == 3
    assert "3 sequences predicted, 1 failed" in capsys.readouterr().out
    with open(out / "sequences" / "summary.csv") as handle:
        rows = {r["input"]: r for r in csv.DictReader(handle)}
    assert rows[str(folder / "broken.nii.gz")]["status"] == "error"
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "broken.nii.gz").write_bytes(b"\x1f\x8b not gzip at all")
    assert _predict(bundle, only_bad / "broken.nii.gz", "--sequence", "--out", tmp_path / "o2") == 2
    assert _predict(bundle, folder / "loop A.nii.gz", "--sequence", "--out", tmp_path / "o3") == 0


def test_plain_predict_on_a_cine_gives_the_sequence_and_frames_picks_images(tmp_path, bundle, capsys):
    cine = write_image(tmp_path / "in" / "loop.nii.gz", disk_cine(half_cycle_radii(6)), SPACING)
    still = write_image(tmp_path / "in" / "still.nii.gz", disk_cine(half_cycle_radii(1))[0], SPACING)
    out = tmp_path / "out"
    assert _predict(bundle, cine, still, "--out", out, "--no-overlay") == 0
    printed = capsys.readouterr().out
    assert "1 frames predicted" in printed and "1 cines predicted as sequences" in printed
    assert "--frame-indices" in printed
    record = json.loads((out / "sequences" / "loop.json").read_text())
    assert record["frames"] == 6 and record["ed_frames"] and record["es_frames"]
    assert record["temporal_flags"]["frames"] == 6 and "lv_area" in record["temporal_flags"]["worst"]
    assert (out / "masks" / "still.nii.gz").is_file() and not list((out / "masks").glob("loop_f*"))
    picked = tmp_path / "picked"
    assert _predict(bundle, cine, "--frame-indices", "0,5", "--out", picked, "--no-overlay") == 0
    assert sorted(p.name for p in (picked / "masks").iterdir()) == ["loop_f0000.nii.gz", "loop_f0005.nii.gz"]
    assert not (picked / "sequences").exists()
    old = tmp_path / "old_spelling"  # --frames: deprecated, the same result
    assert _predict(bundle, cine, "--frames", "0,5", "--out", old, "--no-overlay") == 0
    assert sorted(p.name for p in (old / "masks").iterdir()) == ["loop_f0000.nii.gz", "loop_f0005.nii.gz"]
    assert "--frames is deprecated, use --frame-indices" in capsys.readouterr().err


def test_plain_predict_exit_codes_count_cines(tmp_path, bundle):
    cine = write_image(tmp_path / "in" / "loop.nii.gz", disk_cine(half_cycle_radii(6)), SPACING)
    (tmp_path / "in" / "broken.nii.gz").write_bytes(b"\x1f\x8b not gzip at all")
    assert _predict(bundle, cine, tmp_path / "in" / "broken.nii.gz", "--out", tmp_path / "o2") == 3
    assert _predict(bundle, tmp_path / "in" / "broken.nii.gz", "--out", tmp_path / "o3") == 2
