"""Prediction back-ends: the same ``(B, 1, S, S) → {"logits", "box"}`` call on torch or ONNX Runtime.

``backend="auto"`` uses ONNX Runtime when ``<bundle>/model.onnx`` exists *and* was exported from the same
weights (SHA-256 recorded at export); otherwise torch eager. ``"onnx"`` requires a current export; ``"torch"``
forces eager mode.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lunet.bundle import BundleError, read_bundle_meta
from lunet.inference.export import ONNX_FILE, bundle_folder, output_names, weights_sha256

logger = logging.getLogger(__name__)

BACKENDS = ("auto", "onnx", "torch", "int8")


@dataclass
class Predictor:
    """A loaded model behind one call.

    Attributes:
        model_name: registry name.
        size: input side S in pixels.
        outputs: ``["logits"]``, ``["box"]`` or ``["logits", "box"]``.
        backend: ``"onnx"`` or ``"torch"``.
        meta: the bundle's ``model.json``.
    """

    model_name: str
    size: int
    outputs: list[str]
    backend: str
    meta: dict[str, Any]
    _run: Any

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Run a batch.

        Args:
            batch: (B, 1, S, S) float32 normalised images.

        Returns:
            ``{"logits": (B, C, S, S) float32, "box": (B, 4) float32}`` (the keys the model has).
        """
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if batch.ndim != 4 or batch.shape[1:] != (1, self.size, self.size):
            raise ValueError(f"expected a (B, 1, {self.size}, {self.size}) batch, got {batch.shape}")
        return dict(zip(self.outputs, self._run(batch)))


def _onnx_status(model_path: Path, onnx_path: Path, model_name: str) -> str | None:
    """None when ``onnx_path`` is a current export of ``model_path``, else why not."""
    if not onnx_path.is_file():
        return f"{onnx_path} does not exist (run `lunet export {model_path} --format onnx`)"
    import onnx

    try:
        proto = onnx.load(str(onnx_path), load_external_data=False)
    except Exception as err:
        return f"{onnx_path}: unreadable ONNX file ({type(err).__name__})"
    props = {p.key: p.value for p in proto.metadata_props}
    if props.get("lunet_model") != model_name:
        return f"{onnx_path} was exported from model {props.get('lunet_model')!r}, not {model_name!r}"
    if props.get("weights_sha256") != weights_sha256(model_path):
        return f"{onnx_path} is stale: exported from other weights (run `lunet export` again)"
    return None


def _torch_runner(model_path: Path, names: list[str], device: str, threads: int | None) -> Any:
    import torch

    from lunet.bundle import load_bundle
    from lunet.models.outputs import final_logits, predicted_box

    if threads:
        torch.set_num_threads(threads)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    model, _ = load_bundle(model_path, map_location="cpu")
    model = model.to(device).eval()
    getters = {"logits": final_logits, "box": predicted_box}

    def run(batch: np.ndarray) -> list[np.ndarray]:
        with torch.inference_mode():
            out = model(torch.from_numpy(batch).to(device))
            return [getters[n](out).float().cpu().numpy() for n in names]

    return run


def load_predictor(
    model_path: str | os.PathLike[str], backend: str = "auto", device: str = "cpu", threads: int | None = None
) -> Predictor:
    """Load a run folder, bundle or checkpoint for prediction.

    Args:
        model_path: run folder, ``model.safetensors``/``model.json`` or ``checkpoints/*.ckpt``.
        backend: ``auto | onnx | torch`` (see module docstring).
        device: torch device for the torch back-end (``cpu``, ``cuda``); ORT picks CUDA when it has it.
        threads: CPU threads (default: physical cores for ONNX Runtime, torch's default for torch).

    Raises:
        BundleError: unloadable model, or ``backend="onnx"`` without a current export.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    model_path = Path(model_path)
    if not model_path.exists():
        raise BundleError(f"{model_path}: no such model file or folder")
    meta = read_bundle_meta(bundle_folder(model_path))
    names = output_names(meta["model"])
    size = int(meta.get("size", 256))
    onnx_path = bundle_folder(model_path) / ONNX_FILE
    if backend == "int8":  # model.int8.onnx of `lunet export --int8` (lunet.inference.quantize)
        from lunet.inference.quantize import int8_session

        session = int8_session(model_path, threads)
        return Predictor(meta["model"], size, names, "int8", meta, lambda b: session.run(names, {"image": b}))
    why_not = None if backend == "torch" else _onnx_status(model_path, onnx_path, meta["model"])
    if backend == "onnx" and why_not:
        raise BundleError(f"--backend onnx: {why_not}")
    if backend != "torch" and why_not is None:
        from lunet.inference.onnx_runtime import make_session

        session = make_session(onnx_path, threads=threads)
        logger.info("predicting with ONNX Runtime (%s)", onnx_path)
        return Predictor(meta["model"], size, names, "onnx", meta, lambda b: session.run(names, {"image": b}))
    if backend == "auto":
        logger.info("predicting with torch: %s", why_not)
    return Predictor(
        meta["model"], size, names, "torch", meta, _torch_runner(model_path, names, device, threads)
    )
