"""Every input format reads with the right pixels, spacing (row_mm, col_mm) and frame handling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from inference_helpers import echo_like, write_dicom
from PIL import Image

from lunet.data.camus_io import write_image
from lunet.inference.readers import InputFormatError, expand_inputs, read_item, to_grayscale


def _one(path: Path, spacing=None, frames=None):
    items, errors = expand_inputs([path], frames)
    assert not errors
    return [read_item(item, spacing) for item in items]


@pytest.mark.parametrize("suffix", [".nii.gz", ".mhd"])
def test_nifti_and_mhd_keep_their_spacing(tmp_path: Path, suffix: str) -> None:
    image = echo_like(40, 60)
    path = write_image(tmp_path / f"img{suffix}", image, (0.31, 0.154))
    (loaded,) = _one(path, spacing=(9.0, 9.0))  # --spacing never overrides a file's own spacing
    assert loaded.image.dtype == image.dtype and loaded.image.shape == (40, 60)  # input dtype kept
    np.testing.assert_array_equal(loaded.image, image)
    assert loaded.spacing == pytest.approx((0.31, 0.154))
    assert loaded.item.kind == suffix.strip(".").replace("nii.gz", "nifti")


def test_png_needs_spacing_and_becomes_grayscale(tmp_path: Path) -> None:
    grey = echo_like(30, 50)
    rgb = np.stack([grey, grey // 2, np.zeros_like(grey)], axis=-1)
    path = tmp_path / "scan.png"
    Image.fromarray(rgb, mode="RGB").save(path)
    (item,), _ = expand_inputs([path])
    with pytest.raises(InputFormatError, match=r"scan\.png.*--spacing"):
        read_item(item)
    loaded = read_item(item, (0.5, 0.25))
    expected = 0.299 * grey.astype(np.float32) + 0.587 * (grey // 2)
    np.testing.assert_allclose(loaded.image, expected, atol=1e-3)
    assert loaded.spacing == (0.5, 0.25)


def test_jpeg_grayscale(tmp_path: Path) -> None:
    path = tmp_path / "scan.jpg"
    Image.fromarray(echo_like(32, 48), mode="L").save(path, quality=95)
    (loaded,) = _one(path, spacing=(0.3, 0.3))
    assert loaded.image.shape == (32, 48) and loaded.item.kind == "png"


def test_dicom_region_calibration_cm_to_mm(tmp_path: Path) -> None:
    pixels = echo_like(40, 50)
    path = write_dicom(tmp_path / "us.dcm", pixels, region_delta_cm=(0.03, 0.02))
    (loaded,) = _one(path, spacing=(1.0, 1.0))
    assert loaded.spacing == pytest.approx((0.3, 0.2))  # PhysicalDeltaY (rows), PhysicalDeltaX (cols), ×10
    np.testing.assert_array_equal(loaded.image, pixels)
    assert "NIfTI" in loaded.note


def test_dicom_pixel_spacing_and_rgb(tmp_path: Path) -> None:
    grey = echo_like(40, 50)
    path = write_dicom(
        tmp_path / "rgb.dcm", np.repeat(grey[..., None], 3, axis=-1), pixel_spacing=(0.4, 0.25)
    )
    (loaded,) = _one(path)
    assert loaded.spacing == pytest.approx((0.4, 0.25))
    np.testing.assert_allclose(loaded.image, grey, atol=1e-3)


def test_dicom_without_spacing_needs_the_flag(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "plain.dcm", echo_like(20, 20))
    (item,), _ = expand_inputs([path])
    with pytest.raises(InputFormatError, match=r"plain\.dcm.*no pixel spacing"):
        read_item(item)
    assert read_item(item, (0.2, 0.2)).spacing == (0.2, 0.2)


def test_multiframe_dicom_every_frame_or_selected(tmp_path: Path) -> None:
    frames = np.stack([np.full((20, 30), 10 * k, dtype=np.uint8) for k in range(5)])
    path = write_dicom(tmp_path / "1.2.840.99", frames, region_delta_cm=(0.03, 0.03))  # found by its preamble
    loaded = _one(path)
    assert [x.item.frame for x in loaded] == [0, 1, 2, 3, 4]
    assert [float(x.image.mean()) for x in loaded] == [0, 10, 20, 30, 40]
    selected = _one(path, frames=(1, 3, 99))
    assert [x.item.frame for x in selected] == [1, 3]
    assert float(selected[1].image.mean()) == 30


def test_camus_patient_folder_takes_its_four_frames(tmp_path: Path) -> None:
    patient = tmp_path / "database_nifti" / "patient0007"
    for view in ("2CH", "4CH"):
        for instant in ("ED", "ES"):
            write_image(patient / f"patient0007_{view}_{instant}.nii.gz", echo_like(30, 20), (0.3, 0.15))
            write_image(
                patient / f"patient0007_{view}_{instant}_gt.nii.gz", np.zeros((30, 20), np.uint8), (0.3, 0.15)
            )
        write_image(
            patient / f"patient0007_{view}_half_sequence.nii.gz", np.zeros((3, 30, 20), np.uint8), (0.3, 0.15)
        )
    (patient / "Info_2CH.cfg").write_text("ED: 1\n")
    items, errors = expand_inputs([tmp_path])
    assert not errors
    assert sorted((i.patient_id, i.view, i.instant) for i in items) == sorted(
        ("patient0007", v, t) for v in ("2CH", "4CH") for t in ("ED", "ES")
    )


def test_list_file_folders_and_missing_inputs(tmp_path: Path) -> None:
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    a = write_image(tmp_path / "sub" / "a.nii.gz", echo_like(10, 10), (1.0, 1.0))
    b = write_image(tmp_path / "sub" / "deeper" / "b.mhd", echo_like(10, 10), (1.0, 1.0))
    (tmp_path / "sub" / "notes.txt").write_text("not an image")
    listing = tmp_path / "list.txt"
    listing.write_text(f"# inputs\nsub/a.nii.gz\n{b}\nmissing.nii.gz\n")
    items, errors = expand_inputs([f"@{listing}", tmp_path / "sub"])
    assert [i.path.name for i in items] == ["a.nii.gz", "b.mhd", "a.nii.gz", "b.mhd"]
    assert items[0].path.samefile(a)
    assert len(errors) == 1 and "missing.nii.gz" in errors[0][1]


def test_to_grayscale_weights() -> None:
    rgb = np.zeros((1, 3, 3), dtype=np.uint8)
    rgb[0, 0, 0] = rgb[0, 1, 1] = rgb[0, 2, 2] = 100
    np.testing.assert_allclose(to_grayscale(rgb)[0], [29.9, 58.7, 11.4], rtol=1e-5)
