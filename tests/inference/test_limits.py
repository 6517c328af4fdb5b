"""Hostile and broken inputs are refused from their header, fast and in bounded memory; the rest is predicted.

Each refusal's CPU time is bounded (< 1 s of this process's CPU, not wall-clock time, which a loaded machine
stretches) and its Python heap peak measured with ``tracemalloc`` (numpy, zlib and gzip buffers are traced);
the bombs would need 64 MB to 13 GB if decoded.
"""

from __future__ import annotations

import csv
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from hostile_files import dicom_beyond, mhd_liar, nifti_gz_bomb, nifti_gz_liar, png_bomb
from inference_helpers import echo_like, make_bundle

from lunet.cli import main
from lunet.data.camus_io import CamusFormatError, read_image, write_image
from lunet.inference.readers import InputFormatError, expand_inputs, read_item
from lunet.limits import SizeLimits

#: Heap allowed for refusing one file (the gzip check reads 1 MiB chunks).
PEAK_BYTES = 16 * 2**20


def _refused(call: Callable[[], object], match: str) -> tuple[float, int]:
    """Run ``call``, expect a ValueError matching ``match``; return (CPU seconds, heap peak in bytes)."""
    tracemalloc.start()
    start = time.process_time()
    try:
        with pytest.raises(ValueError, match=match):
            call()
        return time.process_time() - start, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _expand_one(path: Path, limits: SizeLimits | None = None) -> None:
    items, errors = expand_inputs([path], limits=limits)
    if errors:
        raise InputFormatError(errors[0][1])
    read_item(items[0], (0.3, 0.3), limits)


def test_limits_phrase_names_size_and_limit() -> None:
    limits = SizeLimits()
    assert limits.problem(2000, 3000) is None and limits.problem(600, 800, 400) is None
    assert "12000 × 12000 pixels" in limits.problem(12000, 12000) and "--max-pixels" in limits.problem(
        12000, 12000
    )
    assert "3000 frames" in limits.problem(600, 800, 3000) and "--max-frames" in limits.problem(
        600, 800, 3000
    )
    assert "MiB" in SizeLimits(max_bytes=2**20).problem(1000, 1000, 2)
    with pytest.raises(ValueError, match="max_pixels"):
        SizeLimits(max_pixels=0)


def test_the_refusal_names_the_command_whose_flag_raises_the_limit() -> None:
    from lunet.cli import build_parser
    from lunet.data.commands import limits_of
    from lunet.limits import LIMIT_COMMANDS

    assert (
        SizeLimits(command="lunet data summary")
        .problem(50, 50, 3000)
        .endswith("(lunet data summary --max-frames raises it)")
    )
    assert "(lunet preprocess --max-decoded-mb raises it)" in SizeLimits(
        max_bytes=2**20, command="lunet preprocess"
    ).problem(1000, 1000, 2)
    # limits set by no command (dataset readers, training, evaluate): every command that takes the flag
    assert (
        SizeLimits()
        .problem(5000, 5000)
        .endswith(
            "(the --max-pixels option of lunet predict, lunet preprocess or lunet data summary raises it)"
        )
    )
    # each command named takes the flags, and its limits name it
    parser = build_parser()
    argv = {
        "lunet predict": ["predict", "--model", "m", "--out", "o", "x"],
        "lunet preprocess": ["preprocess", "x", "--cache", "c"],
        "lunet data summary": ["data", "summary", "x"],
    }
    assert set(argv) == set(LIMIT_COMMANDS)
    for command, args in argv.items():
        limits = limits_of(parser.parse_args([*args, "--max-pixels", "100"]))
        assert limits.command == command and f"({command} --max-pixels raises it)" in limits.problem(20, 20)


def test_png_bomb(tmp_path: Path) -> None:
    path = png_bomb(tmp_path / "bomb.png", side=8000)
    assert path.stat().st_size < 200_000  # 64 MB of pixels
    seconds, peak = _refused(lambda: _expand_one(path), r"bomb\.png: 8000 × 8000 pixels .*limit of 16\.8 Mpx")
    assert seconds < 1.0 and peak < PEAK_BYTES


def test_pillow_bomb_guard_stays_on(tmp_path: Path) -> None:
    from PIL import Image

    path = png_bomb(tmp_path / "huge.png", side=14000)  # 196 Mpx: beyond twice Pillow's MAX_IMAGE_PIXELS
    assert Image.MAX_IMAGE_PIXELS is not None
    limits = SizeLimits(max_pixels=10**9)  # lunet's own limit raised: Pillow's guard still refuses
    seconds, peak = _refused(
        lambda: _expand_one(path, limits), r"huge\.png: refused by Pillow's decompression"
    )
    assert seconds < 1.0 and peak < PEAK_BYTES


def test_nifti_gz_bomb(tmp_path: Path) -> None:
    path = nifti_gz_bomb(tmp_path / "bomb.nii.gz", inflated_mb=300)
    assert path.stat().st_size < 1_000_000
    seconds, peak = _refused(
        lambda: read_image(path), r"bomb\.nii\.gz: holds more data than its header promises"
    )
    assert seconds < 1.0 and peak < PEAK_BYTES


def test_nifti_header_promising_too_much(tmp_path: Path) -> None:
    short = nifti_gz_liar(tmp_path / "short.nii.gz", (64, 64), payload=1000)
    _refused(lambda: read_image(short), r"short\.nii\.gz: truncated voxel data \(1352 bytes, expected 4448\)")
    huge = nifti_gz_liar(tmp_path / "huge.nii.gz", (20000, 20000), payload=10)
    seconds, peak = _refused(lambda: read_image(huge), r"huge\.nii\.gz: 20000 × 20000 pixels per frame")
    assert seconds < 1.0 and peak < PEAK_BYTES
    frames = nifti_gz_liar(tmp_path / "frames.nii.gz", (600, 800, 30000), payload=10)
    _refused(lambda: read_image(frames), r"frames\.nii\.gz: 30000 frames is beyond the limit of 2000")


def test_mhd_whose_header_lies(tmp_path: Path) -> None:
    small_header = mhd_liar(tmp_path / "liar.mhd", (64, 64), raw_bytes=400 * 2**20)  # sparse 400 MB raw
    seconds, peak = _refused(lambda: read_image(small_header), r"liar\.mhd: data file liar\.raw is too long")
    assert seconds < 1.0 and peak < PEAK_BYTES
    big = mhd_liar(tmp_path / "big.mhd", (20000, 20000, 1), raw_bytes=20000 * 20000)  # the 13 GB case
    seconds, peak = _refused(lambda: read_image(big), r"big\.mhd: 20000 × 20000 pixels per frame")
    assert seconds < 1.0 and peak < PEAK_BYTES


def test_dicom_beyond_the_limit(tmp_path: Path) -> None:
    path = dicom_beyond(tmp_path / "long.dcm", 1000, 1000, 3000)
    seconds, peak = _refused(lambda: _expand_one(path), r"long\.dcm: 3000 frames is beyond the limit of 2000")
    assert seconds < 1.0 and peak < PEAK_BYTES
    wide = dicom_beyond(tmp_path / "wide.dcm", 5000, 5000, 1)
    _refused(lambda: _expand_one(wide), r"wide\.dcm: 5000 × 5000 pixels per frame")
    # with the limit raised, a header promising 25 Mpx over one row of data is refused as truncated, in words
    with pytest.raises(InputFormatError, match=r"wide\.dcm: pixel data truncated: 5,000 of 25,000,000 bytes"):
        _expand_one(wide, SizeLimits(max_pixels=5000 * 5000))


def test_dataset_reader_skips_a_patient_beyond_the_limit(tmp_path: Path) -> None:
    from lunet.data.camus_io import read_header

    path = nifti_gz_liar(tmp_path / "patient0001_2CH_ED.nii.gz", (5000, 5000), payload=10)
    with pytest.raises(CamusFormatError, match=r"patient0001_2CH_ED\.nii\.gz: 5000 × 5000 pixels"):
        read_header(path)


def test_folder_with_bombs_still_predicts_the_rest(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "model", "unet1", filters=(8, 8, 8, 8, 8, 8))
    folder = tmp_path / "in"
    folder.mkdir()
    write_image(folder / "good.nii.gz", echo_like(48, 40), (0.3, 0.3))
    png_bomb(folder / "bomb.png")
    nifti_gz_bomb(folder / "bomb.nii.gz", inflated_mb=50)
    mhd_liar(folder / "liar.mhd", (64, 64), raw_bytes=10**7)
    dicom_beyond(folder / "long.dcm", 1000, 1000, 3000)
    out = tmp_path / "out"
    args = ["--backend", "torch", "--no-progress", "--no-overlay", "--spacing", "0.3", "0.3"]
    start = time.perf_counter()
    code = main(["predict", "--model", str(bundle), str(folder), "--out", str(out), *args])
    assert time.perf_counter() - start < 20
    with open(out / "summary.csv") as handle:
        rows = {Path(r["input"]).name: r for r in csv.DictReader(handle)}
    assert rows["good.nii.gz"]["status"] == "ok" and (out / "masks" / "good.nii.gz").is_file()
    bad = {"bomb.png", "bomb.nii.gz", "liar.mhd", "long.dcm"}
    assert {name for name, r in rows.items() if r["status"] == "error"} == bad
    assert all(name in rows[name]["error"] for name in bad)
    assert "3000 frames is beyond" in rows["long.dcm"]["error"]
    assert rows["long.dcm"]["error"].endswith("(lunet predict --max-frames raises it)")
    assert code == 3  # some inputs bad, the rest predicted
    only_bad = ["predict", "--model", str(bundle), str(folder / "bomb.png"), str(folder / "liar.mhd")]
    assert main([*only_bad, "--out", str(tmp_path / "out2"), *args]) == 2  # every input bad
    raised = ["--max-frames", "4000", "--max-decoded-mb", "4000", "--out", str(tmp_path / "out3"), *args]
    assert main(["predict", "--model", str(bundle), str(folder / "long.dcm"), *raised]) == 2
    # past the raised limit: the truncated data (a cine: reported with the sequences)
    with open(tmp_path / "out3" / "sequences" / "summary.csv") as handle:
        assert "pixel data truncated" in handle.read()
