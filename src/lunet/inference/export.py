"""ONNX export of a trained model: the whole forward pass from a normalised image to logits (and box).

Inputs: ``image`` ``(B, 1, S, S)`` and, for LU-Net and the oracle with ``crop_grid="native"``
(:mod:`lunet.models.roi`), ``crop_source`` ``(B, 1, 2S, 2S)`` (the frame prepared at
``lunet.data.preprocess.crop_source_size``); a dynamic batch axis. Outputs, whichever the model has:
``logits`` ``(B, C, S, S)`` (full-image logits, o2 for two-stage models) and ``box`` ``(B, 4)`` (normalised);
a native-crop model exports ``roi_logits`` ``(B, C, h, w)`` and ``box`` instead, and the runtime composes the
ROI on the original image grid (:func:`lunet.models.postprocess.frame_prediction`), as torch does. An LU-Net
trained on the left atrium (``model.json`` ``labels``, :attr:`lunet.bundle.Bundle.atrium`) also exports
``coarse_logits`` (o1), the source of its LA outside the box. For LU-Net
the graph holds the localizer, the differentiable crop (``grid_sample``) and U-Net1, so ONNX Runtime
reproduces the torch model. BatchNorm is folded into the convolutions (eval-mode export). The file records the
model name, input size and the SHA-256 of the weights it was exported from, so ``lunet predict`` never uses a
stale export.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

from lunet.bundle import ONNX_FILE, Bundle

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_OPSET", "ONNX_FILE", "export_onnx"]

DEFAULT_OPSET = 17


def _wrapper(model: Any, inputs: list[str], names: list[str]) -> Any:
    import torch

    from lunet.predictor import output_getters

    getters = output_getters()

    class Pipeline(torch.nn.Module):
        """``image (, crop_source) → (logits | roi_logits, box)`` with plain tensor outputs, for tracing."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
            out = self.model(tensors[0], **dict(zip(inputs[1:], tensors[1:])))
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
        model_path: run folder, bundle file or Lightning ``.ckpt`` (:class:`lunet.bundle.Bundle`).
        out: destination (default ``<bundle folder>/model.onnx``).
        opset: ONNX opset (≥ 17).
        fixed_batch: export a fixed batch size instead of a dynamic batch axis.

    Returns:
        The written ``.onnx`` path.
    """
    import onnx
    import torch

    from lunet.io import atomic_path

    bundle = Bundle.open(model_path)
    bundle.check_predicts_alone()
    model, inputs, names, size = bundle.load_model(), bundle.inputs, bundle.outputs, bundle.size
    out = Path(out) if out is not None else bundle.folder / ONNX_FILE
    batch = fixed_batch or 2
    sides = {"image": size, "crop_source": bundle.source_size}
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
        for key, value in bundle.export_metadata().items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp))
    logger.info("exported %s (%s, opset %d) to %s", bundle.name, "/".join(names), opset, out)
    return out
