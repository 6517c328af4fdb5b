"""Info_*.cfg parsing: both key sets, required fields, garbage, fuzz."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lunet.data.camus import CamusFormatError, ViewInfo, parse_info_text, read_info_cfg

NEW = "ED: 1\nES: 14\nNbFrame: 16\nSex: F\nAge: 47\nImageQuality: Good\nEF: 61.5\nFrameRate: 50.0\n"
OLD = (
    "ED: 1\nES: 12\nNbFrame: 14\nSex: M\nAge: 80\nImageQuality: Poor\nLVedv: 97.8\nLVesv: 42.1\nLVef: 57.0\n"
)


def test_newer_release_keys(tmp_path):
    path = tmp_path / "Info_2CH.cfg"
    path.write_text(NEW)
    info = read_info_cfg(path)
    assert info == ViewInfo(
        ed=1, es=14, image_quality="Good", nb_frame=16, sex="F", age=47, ef=61.5, frame_rate=50.0
    )
    assert info.ef_percent == 61.5


def test_2019_release_keys():
    info = parse_info_text(OLD, "Info_4CH.cfg")
    assert (info.lv_edv, info.lv_esv, info.lv_ef, info.ef, info.frame_rate) == (97.8, 42.1, 57.0, None, None)
    assert info.ef_percent == 57.0 and info.image_quality == "Poor" and info.nb_frame == 14


def test_only_ed_es_quality_required_and_unknown_keys_ignored():
    info = parse_info_text("ImageQuality: medium\nES: 3\nED: 9\nScanner: GE Vivid E95\n\n", "x.cfg")
    assert (info.ed, info.es, info.image_quality, info.age, info.ef_percent) == (9, 3, "Medium", None, None)


@pytest.mark.parametrize("missing", ["ED", "ES", "ImageQuality"])
def test_missing_required_field_names_file_and_key(missing):
    text = "".join(line + "\n" for line in NEW.splitlines() if not line.startswith(f"{missing}:"))
    with pytest.raises(CamusFormatError, match=rf"Info_2CH\.cfg: missing required field {missing}"):
        parse_info_text(text, "Info_2CH.cfg")


@pytest.mark.parametrize(
    ("line", "key"),
    [("ED: one", "ED"), ("ES: 0", "ES"), ("EF: 5x", "EF"), ("Age: 4.5", "Age"),
     ("ImageQuality: Great", "ImageQuality"),
     ("LVedv: nan", "LVedv"), ("NbFrame: -2", "NbFrame"), ("Sex:", "Sex")],
)  # fmt: skip
def test_garbage_value_names_file_and_key(tmp_path, line, key):
    path = tmp_path / "Info_4CH.cfg"
    path.write_text(NEW + line + "\n")
    with pytest.raises(CamusFormatError, match=rf"Info_4CH\.cfg: field {key} = "):
        read_info_cfg(path)


def test_line_without_colon_and_unreadable_file(tmp_path):
    with pytest.raises(CamusFormatError, match=r"a\.cfg: line 2 is not 'Key: value'"):
        parse_info_text("ED: 1\nthis is not a field\n", "a.cfg")
    with pytest.raises(CamusFormatError, match=r"Info_2CH\.cfg: cannot read"):
        read_info_cfg(tmp_path / "Info_2CH.cfg")


_KEYS = st.sampled_from(
    ["ED", "ES", "NbFrame", "Sex", "Age", "ImageQuality", "EF", "FrameRate", "LVedv", "LVef", "x"]
)


@settings(max_examples=300, deadline=None, database=None)
@given(
    lines=st.lists(
        st.one_of(
            st.tuples(
                _KEYS, st.one_of(st.text(max_size=8), st.integers(-5, 99).map(str), st.floats().map(str))
            ).map(lambda kv: f"{kv[0]}: {kv[1]}"),
            st.text(max_size=20),
        ),
        max_size=10,
    )
)
def test_fuzz_cfg_parser_only_raises_camus_format_error(lines):
    text = "\n".join(lines)
    try:
        info = parse_info_text(text, "fuzz.cfg")
    except CamusFormatError as err:
        assert str(err).startswith("fuzz.cfg: ")
    else:
        assert info.ed >= 1 and info.es >= 1 and info.image_quality in ("Good", "Medium", "Poor")
