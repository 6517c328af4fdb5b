"""Output names cannot escape the output folder; masks, overlays and JSON are written correctly."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lunet.data.camus_io import read_image
from lunet.inference.writers import (
    NameRegistry,
    OutputPathError,
    box_report,
    output_path,
    overlay_rgb,
    safe_name,
    write_json,
    write_mask,
)


@pytest.mark.parametrize(
    ("stem", "expected"),
    [
        ("../../x", "x"),
        ("/etc/passwd", "passwd"),
        ("..", "image"),
        ("a b;$(rm -rf ~)", "a_b_rm_-rf"),
        ("..\\..\\win", "win"),
        (".hidden", "hidden"),
        ("patient0001_2CH_ED", "patient0001_2CH_ED"),
    ],
)
def test_safe_name(stem: str, expected: str) -> None:
    assert safe_name(stem) == expected


def test_output_path_stays_inside(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert output_path(out, "masks", "a", ".png").parent == (out / "masks").resolve()
    with pytest.raises(OutputPathError):
        output_path(out, "masks", "../../escape", ".png")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    out.mkdir(exist_ok=True)
    os.symlink(outside, out / "json")  # a planted symlinked subfolder
    with pytest.raises(OutputPathError, match="escapes"):
        output_path(out, "json", "a", ".json")


def test_planted_symlink_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    path = output_path(tmp_path / "out", "json", "a", ".json")
    path.parent.mkdir(parents=True)
    os.symlink(victim, path)
    write_json(path, {"x": 1})
    assert victim.read_text() == "keep me"
    assert not path.is_symlink() and json.loads(path.read_text()) == {"x": 1}


def test_name_registry_unique() -> None:
    names = NameRegistry()
    assert [names.claim(s) for s in ("a", "A", "a", "../a", "b")] == ["a", "A_2", "a_3", "a_4", "b"]


def test_masks_in_input_formats(tmp_path: Path) -> None:
    label = np.zeros((20, 30), np.uint8)
    label[5:10, 5:20] = 1
    label[10:12] = 2
    for suffix in (".nii.gz", ".mhd"):
        path = write_mask(tmp_path / f"m{suffix}", label, (0.3, 0.2))
        array, spacing = read_image(path)
        np.testing.assert_array_equal(array, label)
        assert spacing == pytest.approx((0.3, 0.2))
    png = write_mask(tmp_path / "m.png", label, (0.3, 0.2))
    np.testing.assert_array_equal(np.asarray(Image.open(png)), label)


def test_overlay_draws_contours_and_box() -> None:
    label = np.zeros((40, 40), np.uint8)
    label[10:30, 10:30] = 2
    label[15:25, 15:25] = 1
    rgb = overlay_rgb(np.zeros((40, 40), np.float32), label, np.array([0.0, 0.0, 0.2, 0.2]))
    assert tuple(rgb[15, 20]) == (255, 64, 64)  # LV contour
    assert tuple(rgb[10, 20]) == (64, 255, 64)  # LV_Epi contour
    assert tuple(rgb[20, 20]) == (0, 0, 0)  # inside: the image
    assert tuple(rgb[0, 5]) == (255, 220, 0) and tuple(rgb[5, 7]) == (255, 220, 0)  # box edges
    assert tuple(rgb[5, 8]) == (0, 0, 0)  # x_max = 0.2 → last pixel inside is column 7


def test_box_report_in_mm() -> None:
    report = box_report(np.array([0.25, 0.5, 0.75, 1.0]), (100, 200), (0.3, 0.2))
    assert report["mm"] == pytest.approx([10.0, 15.0, 30.0, 30.0])
    assert report["width_mm"] == pytest.approx(20.0) and report["height_mm"] == pytest.approx(15.0)


def test_json_has_no_nan(tmp_path: Path) -> None:
    path = write_json(tmp_path / "a.json", {"v": float("nan"), "w": np.float32(2.5), "p": Path("x")})
    assert json.loads(path.read_text()) == {"v": None, "w": 2.5, "p": "x"}


def test_atrium_area_and_contour_only_when_present() -> None:
    from lunet.inference.writers import COLOURS, areas_mm2, overlay_rgb

    label = np.zeros((40, 40), np.uint8)
    label[5:15, 10:30] = 1
    label[20:30, 10:30] = 3
    assert "la" not in areas_mm2(label, (0.5, 0.25))
    assert areas_mm2(label, (0.5, 0.25), atrium=True)["la"] == 200 * 0.125
    rgb = overlay_rgb(np.zeros((40, 40), np.float32), label)
    assert tuple(rgb[20, 15]) == COLOURS["la"] and tuple(rgb[25, 20]) == (0, 0, 0)  # contour, not filled
    label[label == 3] = 0
    assert not (overlay_rgb(np.zeros((40, 40), np.float32), label) == COLOURS["la"]).all(-1).any()
