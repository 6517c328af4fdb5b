"""Prediction back-ends: the same ``(B, 1, S, S) → {"logits", "box"}`` call on torch or ONNX Runtime.

Native-crop models (LU-Net, ``crop_grid="native"``) also take the crop source ``(B, 1, 2S, 2S)`` and return
``{"roi_logits", "box"}``; :func:`lunet.models.postprocess.frame_labels` composes either output on the
original grid.

``backend="auto"`` uses ONNX Runtime when ``<bundle>/model.onnx`` exists *and* was exported from the same
weights (SHA-256 recorded at export); otherwise torch eager. ``"onnx"`` requires a current export; ``"torch"``
forces eager mode.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lunet.bundle import BundleError, atrium_trained, read_bundle_meta
from lunet.inference.export import (
    ONNX_FILE,
    bundle_folder,
    check_predicts_alone,
    model_io,
    output_getters,
    weights_sha256,
)

logger = logging.getLogger(__name__)

BACKENDS = ("auto", "onnx", "torch", "int8")


@dataclass
class Predictor:
    """A loaded model behind one call.

    Attributes:
        model_name: registry name.
        size: input side S in pixels.
        outputs: ``["logits"]``, ``["box"]``, ``["logits", "box"]`` or ``["roi_logits", "box"]``.
        backend: ``"onnx"`` or ``"torch"``.
        meta: the bundle's ``model.json``.
        inputs: ``["image"]``, or ``["image", "crop_source"]`` for a native-crop model.
    """

    model_name: str
    size: int
    outputs: list[str]
    backend: str
    meta: dict[str, Any]
    _run: Any
    inputs: list[str] = field(default_factory=lambda: ["image"])

    @property
    def source_size(self) -> int | None:
        """Side of the crop source the model takes (2S), or ``None``."""
        from lunet.data.preprocess import crop_source_size

        return crop_source_size(self.size) if "crop_source" in self.inputs else None

    def __call__(self, batch: np.ndarray, crop_source: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Run a batch.

        Args:
            batch: (B, 1, S, S) float32 normalised images.
            crop_source: (B, 1, 2S, 2S) the same frames prepared at :attr:`source_size`; required when the
                model takes it.

        Returns:
            ``{"logits": (B, C, S, S) float32, "box": (B, 4) float32}`` or ``{"roi_logits", "box"}`` (the keys
            the model has).
        """
        feeds = {"image": np.ascontiguousarray(batch, dtype=np.float32)}
        if self.source_size is not None:
            if crop_source is None:
                raise ValueError(f"{self.model_name} crops its ROI from a crop source: pass crop_source")
            feeds["crop_source"] = np.ascontiguousarray(crop_source, dtype=np.float32)
        elif crop_source is not None:
            raise ValueError(f"{self.model_name} takes no crop_source")
        for name, array in feeds.items():
            side = self.size if name == "image" else self.source_size
            if array.ndim != 4 or array.shape[1:] != (1, side, side) or len(array) != len(batch):
                raise ValueError(f"expected a ({len(batch)}, 1, {side}, {side}) {name}, got {array.shape}")
        return dict(zip(self.outputs, self._run(feeds)))


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


def _torch_runner(
    model_path: Path, model_name: str, device: str, threads: int | None
) -> tuple[Any, list[str], list[str]]:
    """``(run, inputs, outputs)``: ``run(feeds)`` returns the outputs as numpy arrays."""
    import torch

    from lunet.bundle import load_bundle

    if threads:
        torch.set_num_threads(threads)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    model, meta = load_bundle(model_path, map_location="cpu")
    model = model.to(device).eval()
    inputs, names = model_io(model_name, model, atrium_trained(meta))
    getters = output_getters()

    def run(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        with torch.inference_mode():
            tensors = {k: torch.from_numpy(v).to(device) for k, v in feeds.items()}
            out = model(tensors.pop("image"), **tensors)
            return [getters[n](out).float().cpu().numpy() for n in names]

    return run, inputs, names


def _session_predictor(session: Any, meta: dict[str, Any], size: int, backend: str) -> Predictor:
    """A :class:`Predictor` over an ONNX Runtime session; its inputs and outputs are the graph's."""
    inputs = [i.name for i in session.get_inputs()]
    names = [o.name for o in session.get_outputs()]
    return Predictor(
        meta["model"], size, names, backend, meta, lambda feeds: session.run(names, feeds), inputs
    )


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
    check_predicts_alone(meta["model"])
    size = int(meta.get("size", 256))
    onnx_path = bundle_folder(model_path) / ONNX_FILE
    if backend == "int8":  # model.int8.onnx of `lunet export --int8` (lunet.inference.quantize)
        from lunet.inference.quantize import int8_session

        return _session_predictor(int8_session(model_path, threads), meta, size, "int8")
    why_not = None if backend == "torch" else _onnx_status(model_path, onnx_path, meta["model"])
    if backend == "onnx" and why_not:
        raise BundleError(f"--backend onnx: {why_not}")
    if backend != "torch" and why_not is None:
        from lunet.inference.onnx_runtime import make_session

        logger.info("predicting with ONNX Runtime (%s)", onnx_path)
        return _session_predictor(make_session(onnx_path, threads=threads), meta, size, "onnx")
    if backend == "auto":
        logger.info("predicting with torch: %s", why_not)
    run, inputs, names = _torch_runner(model_path, meta["model"], device, threads)
    return Predictor(meta["model"], size, names, "torch", meta, run, inputs)
