"""DICOM as scanners write it: each photometric interpretation against the same image as MONOCHROME2,
calibration regions (B-mode picked, cropped, dual display), and messages a person understands."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from dicom_files import colour_echo, region, write_photometric, write_with_regions
from inference_helpers import echo_like, write_dicom

from lunet.inference.dicom_pixels import rgb_from_rct
from lunet.inference.readers import InputFormatError, expand_inputs, read_item


def _read(path: Path, spacing=None, region_index=None):
    items, errors = expand_inputs([path], region=region_index)
    assert not errors, errors
    return [read_item(item, spacing) for item in items]


#: photometric interpretation → largest allowed difference from the MONOCHROME2 grey levels.
TOLERANCE = {
    "MONOCHROME1": 0.0, "RGB": 0.6, "YBR_FULL": 1.5, "YBR_FULL_422": 2.0, "YBR_RCT": 0.6, "YBR_ICT": 3.0,
    "JPEG YBR_FULL_422": 8.0,
}  # fmt: skip


@pytest.mark.parametrize("photometric", sorted(TOLERANCE))
def test_each_photometric_interpretation_reads_as_its_monochrome2_twin(
    tmp_path: Path, photometric: str
) -> None:
    rgb = colour_echo()
    (mono,) = _read(write_photometric(tmp_path / "mono.dcm", rgb, "MONOCHROME2"))
    (other,) = _read(write_photometric(tmp_path / "other.dcm", rgb, photometric))
    assert other.image.shape == mono.image.shape == rgb.shape[:2]
    difference = np.abs(other.image.astype(np.float64) - mono.image.astype(np.float64))
    assert difference.mean() <= TOLERANCE[photometric] / 2 and difference.max() <= TOLERANCE[photometric] * 2
    assert other.spacing == mono.spacing == (0.3, 0.3)


def test_palette_colour_applies_the_lut(tmp_path: Path) -> None:
    from lunet.data.preprocess import normalize_intensity

    rgb = colour_echo()
    (mono,) = _read(write_photometric(tmp_path / "mono.dcm", rgb, "MONOCHROME2"))
    path = write_photometric(tmp_path / "palette.dcm", rgb, "PALETTE COLOR")
    (palette,) = _read(path)
    # the network sees min–max normalised grey levels: identical to the MONOCHROME2 twin (16-bit LUT entries)
    np.testing.assert_allclose(normalize_intensity(palette.image), normalize_intensity(mono.image), atol=1e-5)
    import pydicom

    indices = pydicom.dcmread(path).pixel_array  # what was read before: raw palette indices
    assert np.abs(normalize_intensity(indices) - normalize_intensity(mono.image)).mean() > 0.1


def test_rct_inverse_is_exact() -> None:
    rgb = colour_echo().astype(np.int32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    forward = np.stack([np.floor_divide(r + 2 * g + b, 4), b - g, r - g], axis=-1)
    np.testing.assert_array_equal(rgb_from_rct(forward), rgb)


def test_bmode_region_is_picked_and_cropped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pixels = echo_like(60, 80)
    doppler = region((40, 59, 0, 79), (0.5, 0.01), fmt=3, kind=3)  # spectral strip, listed first, in cm too
    bmode = region((5, 34, 10, 69), (0.03, 0.02))
    path = write_with_regions(tmp_path / "us.dcm", pixels, [doppler, bmode])
    with caplog.at_level(logging.INFO):
        (loaded,) = _read(path, spacing=(1.0, 1.0))
    assert loaded.spacing == pytest.approx((0.3, 0.2))
    np.testing.assert_array_equal(loaded.image, pixels[5:35, 10:70])
    assert "ultrasound region 1 (rows 5-34, cols 10-69)" in caplog.text
    assert "--spacing ignored" in caplog.text and "region 1" in loaded.note


def test_dual_display_segments_each_region_or_the_one_asked(tmp_path: Path) -> None:
    pixels = echo_like(50, 100)
    left, right = region((0, 49, 0, 49), (0.03, 0.03)), region((0, 49, 50, 99), (0.04, 0.04))
    path = write_with_regions(tmp_path / "dual.dcm", pixels, [left, right])
    both = _read(path)
    assert [x.item.region for x in both] == [0, 1]
    np.testing.assert_array_equal(both[1].image, pixels[:, 50:])
    assert [x.spacing for x in both] == [pytest.approx((0.3, 0.3)), pytest.approx((0.4, 0.4))]
    (one,) = _read(path, region_index=1)
    assert one.item.region == 1 and one.spacing == pytest.approx((0.4, 0.4))
    _, errors = expand_inputs([path], region=5)
    assert "no calibrated B-mode region 5" in errors[0][1]


def test_truncated_pixel_data_is_said_in_words(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "cut.dcm", echo_like(40, 50))
    data = path.read_bytes()
    path.write_bytes(data[:-1500])
    with pytest.raises(InputFormatError, match=r"cut\.dcm: pixel data truncated: 500 of 2,000 bytes"):
        _read(path)


def test_not_a_dicom_is_said_in_words(tmp_path: Path) -> None:
    path = tmp_path / "junk.dcm"
    path.write_bytes(b"\x00\x01garbage" * 50)
    items, errors = expand_inputs([path])
    assert not items and "junk.dcm: not a" in errors[0][1] and "DICOM" in errors[0][1]
    assert "Traceback" not in errors[0][1] and "force=True" not in errors[0][1]


def test_unknown_file_in_a_folder_is_reported(tmp_path: Path) -> None:
    write_dicom(tmp_path / "1.2.840.99", echo_like(20, 20), pixel_spacing=(0.3, 0.3))  # UID name, preamble
    (tmp_path / "scan0001").write_bytes(b"\x00" * 300)  # no extension, no preamble
    (tmp_path / "notes.txt").write_text("not an image")  # a known non-image type: not reported
    items, errors = expand_inputs([tmp_path])
    assert [i.path.name for i in items] == ["1.2.840.99"]
    assert len(errors) == 1 and "scan0001: not an image lunet reads" in errors[0][1]


def test_rle_encoded_reads_as_native(tmp_path: Path) -> None:
    import pydicom
    from pydicom.uid import RLELossless

    native = write_photometric(tmp_path / "native.dcm", colour_echo(), "RGB")
    ds = pydicom.dcmread(native)
    ds.compress(RLELossless)
    ds.save_as(tmp_path / "rle.dcm")
    (a,), (b,) = _read(native), _read(tmp_path / "rle.dcm")
    np.testing.assert_array_equal(a.image, b.image)


def test_codec_not_installed_and_damaged_data_are_said_in_words(tmp_path: Path) -> None:
    import pydicom
    from pydicom.encaps import encapsulate
    from pydicom.pixels import get_decoder
    from pydicom.uid import JPEGBaseline8Bit, JPEGLSLossless

    for name, syntax in (("jls.dcm", JPEGLSLossless), ("jpeg.dcm", JPEGBaseline8Bit)):
        path = write_dicom(tmp_path / name, echo_like(16, 16), pixel_spacing=(0.3, 0.3))
        ds = pydicom.dcmread(path)
        ds.file_meta.TransferSyntaxUID = syntax
        ds.PixelData = encapsulate([b"\xff\xd8 not a codestream \xff\xd9"])
        ds["PixelData"].VR = "OB"
        ds.save_as(path, enforce_file_format=True)
    expected = "no decoder for it is installed" if not get_decoder(JPEGLSLossless).is_available else "cannot"
    with pytest.raises(InputFormatError, match=rf"jls\.dcm: pixel data .*{expected}"):
        _read(tmp_path / "jls.dcm")
    with pytest.raises(InputFormatError, match=r"jpeg\.dcm: pixel data cannot be decoded \(JPEG Baseline"):
        _read(tmp_path / "jpeg.dcm")


def test_cut_png_is_said_in_words(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "cut.png"
    Image.fromarray(echo_like(64, 64)).save(path)
    path.write_bytes(path.read_bytes()[:-2000])
    (item,), _ = expand_inputs([path])
    with pytest.raises(InputFormatError, match=r"cut\.png: image data damaged or cut short$"):
        read_item(item, (0.3, 0.3))
    path.write_bytes(b"not a png at all")
    _, errors = expand_inputs([path])
    assert errors[0][1].endswith("cut.png: unreadable image (not a PNG/JPEG, or damaged)")


def test_big_endian_16_bit_reads_as_its_little_endian_twin(tmp_path: Path) -> None:
    """Explicit VR Big Endian (retired, still written by old scanners): 16-bit pixels byte-swapped right."""
    import pydicom
    from pydicom.uid import ExplicitVRBigEndian

    grey = (colour_echo()[..., 0].astype(np.uint16) * 257).astype(np.uint16)  # the full 16-bit range
    little = write_dicom(tmp_path / "little.dcm", grey.astype(np.uint8), pixel_spacing=(0.3, 0.3))
    ds = pydicom.dcmread(little)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelData = grey.astype("<u2").tobytes()
    ds["PixelData"].VR = "OW"
    ds.save_as(little, enforce_file_format=True)
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    ds.PixelData = grey.astype(">u2").tobytes()
    big = tmp_path / "big.dcm"
    pydicom.dcmwrite(big, ds, little_endian=False, implicit_vr=False, force_encoding=True)
    assert pydicom.dcmread(big).file_meta.TransferSyntaxUID == ExplicitVRBigEndian
    (from_little,) = _read(little)
    (from_big,) = _read(big)
    assert from_little.image.shape == grey.shape
    np.testing.assert_array_equal(from_big.image, from_little.image)
    # the 16-bit values survive (not scrambled by a wrong byte order): the rank order is that of ``grey``
    order = np.argsort(grey, axis=None, kind="stable")
    assert np.all(np.diff(from_big.image.ravel()[order].astype(np.float64)) >= 0)
