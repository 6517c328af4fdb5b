"""``lunet export`` prints one line per fact: the tracer's warnings on frozen shape checks are not shown."""

from __future__ import annotations

import warnings
from pathlib import Path

from inference_helpers import make_bundle

from lunet.inference.export import export_onnx


def test_export_raises_no_tracer_warning(tmp_path: Path) -> None:
    import torch

    folder = make_bundle(tmp_path / "unet1", "unet1", filters=(8, 8, 16, 16, 16, 16))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert export_onnx(folder).is_file()
    assert not [w for w in caught if issubclass(w.category, torch.jit.TracerWarning)]
