"""Untrusted model files: a pickle that would run code is refused and runs nothing."""

from __future__ import annotations

import json
import pathlib
from pathlib import Path

import pytest

from lunet.bundle import BundleError, load_bundle
from lunet.inference.predict import PredictOptions, predict_paths


class _Payload:
    """Unpickling this object would create ``marker`` (a stand-in for arbitrary code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def _malicious_run(tmp_path: Path) -> tuple[Path, Path]:
    import torch

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "model.json").write_text(json.dumps({"model": "unet1", "size": 64}))
    marker = tmp_path / "pwned"
    ckpt = run / "checkpoints" / "best.ckpt"
    torch.save({"state_dict": {"w": _Payload(marker)}}, ckpt)
    assert not marker.exists()
    return ckpt, marker


def test_malicious_checkpoint_is_refused(tmp_path: Path) -> None:
    ckpt, marker = _malicious_run(tmp_path)
    with pytest.raises(BundleError, match=r"best\.ckpt.*refused"):
        load_bundle(ckpt)
    assert not marker.exists()


def test_predict_refuses_it_too(tmp_path: Path) -> None:
    ckpt, marker = _malicious_run(tmp_path)
    with pytest.raises(BundleError):
        predict_paths(ckpt, [tmp_path], tmp_path / "out", PredictOptions(backend="auto", progress=False))
    assert not marker.exists()
