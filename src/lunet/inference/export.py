"""ONNX export of a trained model: the whole forward pass from a normalised image to logits (and box).

Inputs: ``image`` ``(B, 1, S, S)`` and, for LU-Net and the oracle with ``crop_grid="native"``
(:mod:`lunet.models.roi`), ``crop_source`` ``(B, 1, 2S, 2S)`` (the frame prepared at
``lunet.data.preprocess.crop_source_size``); a dynamic batch axis. Outputs, whichever the model has:
``logits`` ``(B, C, S, S)`` (full-image logits, o2 for two-stage models) and ``box`` ``(B, 4)`` (normalised);
a native-crop model exports ``roi_logits`` ``(B, C, h, w)`` and ``box`` instead, and the runtime composes the
ROI on the original image grid (:func:`lunet.models.postprocess.frame_labels`), as torch does. An LU-Net
trained on the left atrium (``model.json`` ``labels``, :func:`lunet.bundle.atrium_trained`) also exports
``coarse_logits`` (o1), the source of its LA outside the box. For LU-Net
the graph holds the localizer, the differentiable crop (``grid_sample``) and U-Net1, so ONNX Runtime
reproduces the torch model. BatchNorm is folded into the convolutions (eval-mode export). The file records the
model name, input size and the SHA-256 of the weights it was exported from, so ``lunet predict`` never uses a
stale export.
"""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from pathlib import Path
from typing import Any

from lunet.bundle import WEIGHTS_FILE, BundleError, atrium_trained

logger = logging.getLogger(__name__)

ONNX_FILE = "model.onnx"
DEFAULT_OPSET = 17


def bundle_folder(path: str | os.PathLike[str]) -> Path:
    """The folder holding ``model.json`` for a run folder, bundle file or ``checkpoints/*.ckpt``."""
    path = Path(path)
    if path.is_dir():
        return path
    if path.suffix == ".ckpt" and path.parent.name == "checkpoints":
        return path.parent.parent
    return path.parent


def weights_file(path: str | os.PathLike[str]) -> Path:
    """The weights a model path loads from: the ``.ckpt`` itself, else the bundle's ``model.safetensors``."""
    path = Path(path)
    return path if path.suffix == ".ckpt" else bundle_folder(path) / WEIGHTS_FILE


def weights_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of the weights file behind ``path``."""
    digest = hashlib.sha256()
    with open(weights_file(path), "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_predicts_alone(model_name: str) -> None:
    """Raise :class:`BundleError` for a model that needs the reference box as input (the oracle)."""
    from lunet.models.registry import get_spec

    if get_spec(model_name).needs_reference_box:
        raise BundleError(
            f"model {model_name!r} needs the reference box as input; it cannot predict on its own"
        )


def model_io(model_name: str, model: Any, atrium: bool = False) -> tuple[list[str], list[str]]:
    """Input and output names of a model for prediction (ONNX graph names, back-end dict keys).

    Inputs: ``image`` (+ ``crop_source`` for a native-crop model). Outputs: ``roi_logits`` and ``box`` for a
    native-crop model, else ``logits`` and/or ``box``; with ``atrium`` (a model trained on the left atrium,
    :func:`lunet.bundle.atrium_trained`), LU-Net adds ``coarse_logits`` (o1, full image), whose LA lies
    outside the box (:func:`lunet.models.postprocess.frame_labels`).
    """
    from lunet.models.registry import get_spec
    from lunet.models.roi import uses_crop_source

    check_predicts_alone(model_name)
    spec = get_spec(model_name)
    extra = ["coarse_logits"] if atrium and model_name == "lunet" else []
    if uses_crop_source(model):
        return ["image", "crop_source"], ["roi_logits", "box", *extra]
    outputs = [name for name, has in (("logits", spec.has_segmentation), ("box", spec.has_box)) if has]
    return ["image"], outputs + extra


def output_getters() -> dict[str, Any]:
    """``name → function(model output) → tensor`` for the names of :func:`model_io`."""
    from lunet.models.outputs import final_logits, first_logits, predicted_box

    return {
        "logits": final_logits,
        "box": predicted_box,
        "roi_logits": lambda out: out.roi_logits,
        "coarse_logits": first_logits,
    }


def _wrapper(model: Any, inputs: list[str], names: list[str]) -> Any:
    import torch

    getters = output_getters()

    class Pipeline(torch.nn.Module):
        """``image (, crop_source) → (logits | roi_logits, box)`` with plain tensor outputs, for tracing."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
            extra = {"crop_source": tensors[1]} if len(inputs) > 1 else {}
            out = self.model(tensors[0], **extra)
            return tuple(getters[name](out) for name in names)

    return Pipeline().eval()


def export_onnx(
    model_path: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    opset: int = DEFAULT_OPSET,
    fixed_batch: int | None = None,
) -> Path:
    """Export a bundle or checkpoint to ONNX, atomically.

    Args:
        model_path: run folder, bundle file or Lightning ``.ckpt`` (read by :func:`lunet.bundle.load_bundle`).
        out: destination (default ``<bundle folder>/model.onnx``).
        opset: ONNX opset (≥ 17).
        fixed_batch: export a fixed batch size instead of a dynamic batch axis.

    Returns:
        The written ``.onnx`` path.
    """
    import onnx
    import torch

    from lunet.bundle import load_bundle
    from lunet.data.preprocess import crop_source_size
    from lunet.io import atomic_path

    model, meta = load_bundle(model_path)
    inputs, names = model_io(meta["model"], model, atrium_trained(meta))
    size = int(meta.get("size", 256))
    out = Path(out) if out is not None else bundle_folder(model_path) / ONNX_FILE
    batch = fixed_batch or 2
    source = crop_source_size(size)
    sides = {"image": size, "crop_source": source}
    example = tuple(torch.zeros(batch, 1, sides[n], sides[n]) for n in inputs)
    dynamic = None if fixed_batch else {n: {0: "batch"} for n in (*inputs, *names)}
    wrapper = _wrapper(model, inputs, names)
    with atomic_path(out) as tmp, torch.no_grad(), warnings.catch_warnings():
        # the tracer warns at every shape check it freezes; only the batch axis varies, and the ONNX model is
        # compared with the torch one (tests/inference/test_export.py), so the warnings are noise to a user
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        try:  # the TorchScript exporter: fast, folds BatchNorm into the convolutions
            torch.onnx.export(
                wrapper, example, str(tmp), input_names=inputs, output_names=names,
                dynamic_axes=dynamic, opset_version=opset, do_constant_folding=True, dynamo=False,
            )  # fmt: skip
        except Exception as err:  # e.g. adaptive pooling to a size that does not divide the input
            logger.info("TorchScript ONNX exporter failed (%s); using the dynamo exporter", str(err)[:120])
            dim = torch.export.Dim("batch", min=1, max=4096)
            shapes = None if fixed_batch else tuple({0: dim} for _ in inputs)
            torch.onnx.export(
                wrapper, example, str(tmp), input_names=inputs, output_names=names,
                dynamic_shapes=shapes, opset_version=max(opset, 18), dynamo=True, external_data=False,
                verbose=False,
            )  # fmt: skip
        proto = onnx.load(str(tmp))
        props = {
            "lunet_model": meta["model"],
            "size": str(size),
            "weights_sha256": weights_sha256(model_path),
            "inputs": ",".join(inputs),
            "outputs": ",".join(names),
            "lunet_version": str(meta.get("lunet_version", "")),
        }
        for key, value in props.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp))
    logger.info("exported %s (%s, opset %d) to %s", meta["model"], "/".join(names), opset, out)
    return out
