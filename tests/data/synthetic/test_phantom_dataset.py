"""Files on disk: CAMUS layouts, cfg keys, truth vs files, byte-identical output for any worker count."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from lunet.boxes import reference_box
from lunet.data.synthetic.commands import register
from lunet.data.synthetic.generate import generate_dataset

KEYS = ("ED", "ES", "NbFrame", "Sex", "Age", "ImageQuality", "EF", "FrameRate", "LVedv", "LVesv", "LVef")


def _read(path: Path) -> tuple[np.ndarray, tuple[float, ...]]:
    import SimpleITK as sitk

    image = sitk.ReadImage(str(path))
    return sitk.GetArrayFromImage(image), image.GetSpacing()


def _cfg(path: Path) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in path.read_text().splitlines() if line)


def test_nifti_layout_and_truth(phantom_nifti):
    root = phantom_nifti
    for split in ("training", "validation", "testing"):
        assert (root / "database_split" / f"subgroup_{split}.txt").exists()
    listed = [
        pid
        for s in ("training", "validation", "testing")
        for pid in (root / "database_split" / f"subgroup_{s}.txt").read_text().split()
    ]
    assert sorted(listed) == ["patient0001", "patient0002"]  # every patient in exactly one list
    folder = root / "database_nifti" / "patient0001"
    truth = json.loads((folder / "phantom_truth.json").read_text())
    for view in ("2CH", "4CH"):
        cfg = _cfg(folder / f"Info_{view}.cfg")
        assert set(KEYS) <= set(cfg)
        assert cfg["ImageQuality"] in ("Good", "Medium", "Poor")
        assert float(cfg["LVef"]) == pytest.approx(truth["ef_percent"], abs=0.01)
        vt = truth["views"][view]
        for inst in ("ED", "ES"):
            img, sp_img = _read(folder / f"patient0001_{view}_{inst}.nii.gz")
            gt, sp_gt = _read(folder / f"patient0001_{view}_{inst}_gt.nii.gz")
            assert img.dtype == np.uint8 and gt.dtype == np.uint8 and img.shape == gt.shape == (256, 256)
            assert set(np.unique(gt)) <= {0, 1, 2, 3}
            # SimpleITK spacing is (x = col, y = row); the truth stores (row_mm, col_mm)
            assert sp_img == pytest.approx(tuple(reversed(vt["spacing_mm"])), rel=1e-6) and sp_img == sp_gt
            assert vt["instants"][inst]["box"] == pytest.approx(list(reference_box(gt, 0.0)), abs=0)
        seq, _ = _read(folder / f"patient0001_{view}_half_sequence.nii.gz")
        seq_gt, _ = _read(folder / f"patient0001_{view}_half_sequence_gt.nii.gz")
        assert seq.shape == seq_gt.shape == (int(cfg["NbFrame"]), 256, 256)
        ed, es = int(cfg["ED"]), int(cfg["ES"])
        assert (ed > es) == vt["half_sequence_reversed"]
        ed_img, _ = _read(folder / f"patient0001_{view}_ED.nii.gz")
        assert np.array_equal(seq[ed - 1], ed_img)


def test_mhd_layout(tmp_path):
    root = generate_dataset(tmp_path / "mhd", 1, fmt="mhd", size="256", seed=1, workers=1)
    folder = root / "training" / "patient0001"
    for view in ("2CH", "4CH"):
        for suffix in ("ED", "ES", "ED_gt", "ES_gt"):
            arr, spacing = _read(folder / f"patient0001_{view}_{suffix}.mhd")
            assert arr.shape == (1, 256, 256) and len(spacing) == 3  # one-slice 3-D, as in 2019
            assert (folder / f"patient0001_{view}_{suffix}.raw").exists()
        seq, _ = _read(folder / f"patient0001_{view}_sequence.mhd")
        assert seq.ndim == 3 and seq.shape[0] >= 3
        assert set(KEYS) <= set(_cfg(folder / f"Info_{view}.cfg"))
    assert (folder / "phantom_truth.json").exists()


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_output_is_byte_identical_for_any_worker_count(phantom_nifti, tmp_path):
    two = generate_dataset(tmp_path / "w2", 2, size="256", seed=7, workers=2)
    a, b = _files(phantom_nifti), _files(two)
    assert a.keys() == b.keys() and len(a) > 30
    assert all(a[k] == b[k] for k in a)


def test_options_object_and_keyword_fields_write_the_same_dataset(phantom_nifti, tmp_path):
    """``generate_dataset(out, n, PhantomOptions(...))`` == the same options as keyword fields (old calls)."""
    from lunet.data.synthetic.patient import PhantomOptions

    options = PhantomOptions(size="256")
    one = generate_dataset(tmp_path / "opts", 2, options, seed=7, workers=1)
    a, b = _files(phantom_nifti), _files(one)
    assert a.keys() == b.keys() and all(a[k] == b[k] for k in a)
    note = (one / "PHANTOM.txt").read_text().splitlines()
    assert note[1:5] == ["patients: 2", "format: nifti", "size: 256", "seed: 7"]
    assert note[-1] == "lvot_fraction: 0.3" and "cycles: 0" in note and "circular: False" in note
    over = generate_dataset(tmp_path / "over", 1, options, seed=7, workers=1, circular=True)
    assert "circular: True" in (over / "PHANTOM.txt").read_text()  # a keyword field replaces the option
    with pytest.raises(TypeError, match="colour"):
        generate_dataset(tmp_path / "bad", 1, colour="red")


def test_cli_register_and_run(tmp_path):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            "synth",
            "--out",
            str(tmp_path / "cli"),
            "--patients",
            "1",
            "--size",
            "256",
            "--workers",
            "1",
            "--no-progress",
        ]
    )
    assert args.func(args) == 0
    assert (tmp_path / "cli" / "database_nifti" / "patient0001" / "patient0001_4CH_ES_gt.nii.gz").exists()


def test_bad_arguments_are_value_errors(tmp_path):
    with pytest.raises(ValueError, match="fmt"):
        generate_dataset(tmp_path, 1, fmt="dicom")
    with pytest.raises(ValueError, match="size"):
        generate_dataset(tmp_path, 1, size="512")


def test_cli_preview_writes_a_gallery_across_qualities(tmp_path):
    from PIL import Image

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["synth", "--preview", str(tmp_path / "gallery.png")])
    assert args.func(args) == 0
    with Image.open(tmp_path / "gallery.png") as image:
        width, height = image.size
        assert width > 300 and height > width  # 4 rows (Good, Medium, Poor, hard) × 4 panels
        assert len(set(image.convert("L").getdata())) > 20  # grey speckle, not a blank figure
    assert not (tmp_path / "cli").exists()  # --preview alone writes no dataset
    with pytest.raises(SystemExit):
        args = parser.parse_args(["synth"])
        args.func(args)


def test_gallery_quality_rows_show_views_of_that_quality():
    """A view may be drawn a tier better than its patient; the gallery's quality rows pick patients whose two
    views are both of the row's tier, so a "Poor" row never shows a Medium view."""
    from lunet.data.synthetic.patient import PhantomOptions
    from lunet.data.synthetic.preview import ROWS, _row_patient

    for title, mix, hard, lvot in ROWS[:3]:
        options = PhantomOptions(quality_mix=mix, hard_fraction=hard, lvot_fraction=lvot)
        patient = _row_patient(title, 1 + ROWS.index((title, mix, hard, lvot)), 0, options)
        assert {vr.quality for vr in patient.views.values()} == {title}
