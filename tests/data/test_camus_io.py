"""Single-file reading/writing: round trips and every malformed-file error."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from lunet.data.camus import CamusFormatError, read_frame, read_header, read_image, read_sequence, write_image

SPACING = (0.308, 0.154)


@pytest.mark.parametrize("ext", [".nii.gz", ".mhd", ".nii"])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.int16])
def test_round_trip_frame_keeps_shape_dtype_and_anisotropic_spacing(tmp_path, ext, dtype):
    array = (np.arange(64 * 48).reshape(64, 48) % 200).astype(dtype)
    path = write_image(tmp_path / f"img{ext}", array, SPACING)
    out, spacing = read_frame(path)
    assert out.shape == (64, 48) and out.dtype == dtype
    np.testing.assert_array_equal(out, array)
    assert spacing == pytest.approx(SPACING, rel=1e-6)
    assert read_header(path) == ((64, 48), pytest.approx(SPACING, rel=1e-6))


def test_mhd_frame_is_stored_3d_with_one_slice_like_2019(tmp_path):
    import SimpleITK as sitk

    path = write_image(tmp_path / "a.mhd", np.zeros((64, 48), np.uint8), SPACING)
    assert "NDims = 3" in path.read_text() and "DimSize = 48 64 1" in path.read_text()
    assert sitk.GetArrayFromImage(sitk.ReadImage(str(path))).shape == (1, 64, 48)
    assert read_image(path)[0].shape == (64, 48)


@pytest.mark.parametrize("ext", [".nii.gz", ".mhd"])
def test_sequence_round_trip_and_multi_frame_where_single_expected(tmp_path, ext):
    frames = np.random.default_rng(0).integers(0, 255, (5, 64, 48)).astype(np.uint8)
    path = write_image(tmp_path / f"seq{ext}", frames, SPACING)
    out, spacing = read_sequence(path)
    np.testing.assert_array_equal(out, frames)
    assert spacing == pytest.approx(SPACING, rel=1e-6)
    with pytest.raises(CamusFormatError, match=r"seq.*expected a single frame, found 5 frames"):
        read_frame(path)


def test_truncated_nifti_is_an_error_naming_the_file(tmp_path):
    path = write_image(tmp_path / "img.nii.gz", np.ones((64, 48), np.uint8), SPACING)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CamusFormatError, match=r"img\.nii\.gz.*(truncated|unreadable)"):
        read_image(path)


def test_nifti_with_too_little_voxel_data(tmp_path):
    path = write_image(tmp_path / "img.nii.gz", np.ones((64, 48), np.uint8), SPACING)
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(CamusFormatError, match=r"img\.nii\.gz.*truncated voxel data"):
        read_image(path)


@pytest.mark.parametrize("value", [0.0, -0.5, float("nan")])
def test_nifti_non_positive_spacing(tmp_path, value):
    path = write_image(tmp_path / "img.nii.gz", np.ones((64, 48), np.uint8), SPACING)
    raw = bytearray(gzip.decompress(path.read_bytes()))
    struct.pack_into("<f", raw, 80, value)  # pixdim[1] (x = columns)
    path.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(CamusFormatError, match=r"img\.nii\.gz.*spacing along x"):
        read_image(path)


def test_not_an_image_and_missing_file(tmp_path):
    (tmp_path / "junk.nii.gz").write_bytes(b"not gzip at all")
    with pytest.raises(CamusFormatError, match=r"junk\.nii\.gz"):
        read_image(tmp_path / "junk.nii.gz")
    with pytest.raises(CamusFormatError, match=r"nothere\.mhd: file not found"):
        read_image(tmp_path / "nothere.mhd")
    (tmp_path / "x.png").write_bytes(b"png")
    with pytest.raises(CamusFormatError, match=r"x\.png: unsupported image type"):
        read_image(tmp_path / "x.png")


def _mhd(tmp_path: Path) -> Path:
    return write_image(tmp_path / "img.mhd", np.arange(64 * 48, dtype=np.uint8).reshape(64, 48), SPACING)


def test_mhd_missing_and_short_raw(tmp_path):
    path = _mhd(tmp_path)
    raw = path.with_suffix(".raw")
    raw.write_bytes(raw.read_bytes()[:100])
    with pytest.raises(
        CamusFormatError, match=r"img\.mhd.*img\.raw is too short \(100 bytes, header promises 3072\)"
    ):
        read_image(path)
    raw.unlink()
    with pytest.raises(CamusFormatError, match=r"img\.mhd.*img\.raw not found"):
        read_image(path)


@pytest.mark.parametrize(
    ("spacing_line", "message"),
    [
        ("ElementSpacing = -0.154 0.308 1", "must be > 0"),
        ("ElementSpacing = 0 0.308 1", "must be > 0"),
        ("ElementSpacing = abc def 1", "not numeric"),
        ("ElementSpacing = 0.154 0.308", "has 2 values, expected 3"),
        ("", "missing header field ElementSpacing"),
    ],
)
def test_mhd_bad_element_spacing(tmp_path, spacing_line, message):
    path = _mhd(tmp_path)
    lines = [line for line in path.read_text().splitlines() if not line.startswith("ElementSpacing")]
    path.write_text("\n".join([*lines[:-1], spacing_line, lines[-1]]) + "\n")
    with pytest.raises(CamusFormatError, match=rf"img\.mhd.*{message}"):
        read_image(path)


_FIELDS = st.sampled_from(
    ["NDims", "DimSize", "ElementSpacing", "ElementType", "ElementDataFile", "CompressedData", "HeaderSize",
     "TransformMatrix", "Offset", "ElementNumberOfChannels", "BinaryDataByteOrderMSB", "ObjectType", "junk"]
)  # fmt: skip
_VALUES = st.one_of(
    st.lists(st.integers(-3, 70), min_size=0, max_size=4).map(lambda v: " ".join(map(str, v))),
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=4).map(
        lambda v: " ".join(map(str, v))
    ),
    st.sampled_from(
        ["MET_UCHAR", "MET_FLOAT", "MET_WEIRD", "True", "False", "img.raw", "LOCAL", "", "img.mhd"]
    ),
    st.text(max_size=12),
    st.sampled_from(["48 64 1", "32 16 1", "0.2 0.3 1", "1 0 0 0 1 0 0 0 1", "3", "1", "0 0 0"]),
)


def _promised_bytes(fields: dict[str, str]) -> int:
    """Bytes the header asks for when DimSize and ElementType parse (else the original 3072)."""
    sizes = {"MET_UCHAR": 1, "MET_FLOAT": 4}
    try:
        dims = [int(v) for v in fields["DimSize"].split()]
        return max(0, int(np.prod(dims))) * sizes[fields["ElementType"]]
    except (KeyError, ValueError):
        return 3072


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    changes=st.lists(st.tuples(_FIELDS, _VALUES), max_size=4),
    raw_len=st.one_of(
        st.just(-1), st.just(-1), st.just(-1), st.integers(0, 4000)
    ),  # -1: exactly what the header promises
)
def test_fuzz_mhd_header_only_raises_camus_format_error(tmp_path, changes, raw_len):
    path = _mhd(tmp_path)
    fields = dict(line.split(" = ", 1) for line in path.read_text().splitlines())
    for key, value in changes:
        fields[key] = value
    data_file = fields.pop("ElementDataFile", "img.raw")
    text = "".join(f"{k} = {v}\n" for k, v in fields.items()) + f"ElementDataFile = {data_file}\n"
    path.write_bytes(text.encode("utf-8", errors="replace"))
    raw_len = min(_promised_bytes(fields), 10**6) if raw_len < 0 else raw_len
    path.with_suffix(".raw").write_bytes(bytes(i % 256 for i in range(raw_len)))
    try:
        array, spacing = read_image(path)
    except CamusFormatError as err:
        event("CamusFormatError")
        assert "img.mhd" in str(err) or "img.raw" in str(err)
    else:
        event("read")
        assert array.ndim in (2, 3) and all(s > 0 for s in spacing)
