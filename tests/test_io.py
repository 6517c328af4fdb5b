import os

import pytest

from lunet.io import atomic_path, atomic_write, write_text_atomic


def test_atomic_write_replaces_only_on_success(tmp_path):
    target = tmp_path / "out.json"
    write_text_atomic(target, "old")
    with pytest.raises(RuntimeError), atomic_write(target, "w") as handle:
        handle.write("half")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.json"]  # no temporary file left behind
    write_text_atomic(target, "new")
    assert target.read_text() == "new"


def test_atomic_path_keeps_suffixes_for_format_detection(tmp_path):
    target = tmp_path / "sub" / "mask.nii.gz"
    with atomic_path(target) as tmp:
        assert tmp.name.endswith(".nii.gz") and tmp.parent == target.parent
        tmp.write_bytes(b"x")
        assert not target.exists()
    assert target.read_bytes() == b"x"


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_written_files_respect_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        write_text_atomic(tmp_path / "a.json", "{}")
        with atomic_path(tmp_path / "b.nii.gz") as tmp:
            tmp.write_bytes(b"x")
        with atomic_write(tmp_path / "c.bin") as handle:
            handle.write(b"x")
    finally:
        os.umask(old)
    for name in ("a.json", "b.nii.gz", "c.bin"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask, name


def test_json_safe_writes_every_non_finite_float_as_null():
    import json
    import math

    import numpy as np

    from lunet.io import json_safe

    value = {
        "nan": math.nan, "inf": np.float32("inf"), "x": np.float64(0.1), "f32": np.float32(0.5), "n": 3,
        "i64": np.int64(7), "flag": True, "nested": ({"a": -math.inf}, [1.5, np.nan]), "text": "NaN",
    }  # fmt: skip
    safe = json_safe(value)
    assert safe == {
        "nan": None, "inf": None, "x": 0.1, "f32": 0.5, "n": 3, "i64": 7, "flag": True,
        "nested": [{"a": None}, [1.5, None]], "text": "NaN",
    }  # fmt: skip
    assert type(safe["f32"]) is float and type(safe["n"]) is int and safe["flag"] is True
    assert json.loads(json.dumps(safe, allow_nan=False, default=int)) == {**safe, "i64": 7}
