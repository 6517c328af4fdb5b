"""INT8 static quantization of an exported model with ONNX Runtime (``lunet export --int8``).

QDQ format (QuantizeLinear/DequantizeLinear pairs around each quantized operator, which ONNX Runtime fuses
into integer kernels), signed 8-bit weights per output channel, unsigned 8-bit activations, MinMax calibration
on *phantom* frames (:func:`lunet.data.synthetic.render_patient`, prepared exactly as ``lunet predict``
prepares an image): no patient data and no download. The fp32 graph is first put through ORT's
pre-processing (shape inference, graph optimisation), as the ORT documentation recommends.

The INT8 file sits next to the fp32 export as ``model.int8.onnx`` and carries the same metadata
(model name, input size, weights hash), plus ``quantization = int8-qdq`` and the calibration set used;
``lunet predict --backend int8`` (:meth:`lunet.predictor.Predictor.from_bundle`) refuses it once the weights
change, as it refuses a stale fp32 export.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from lunet.bundle import INT8_FILE

logger = logging.getLogger(__name__)

__all__ = ["INT8_FILE", "export_int8", "phantom_calibration", "quantize_onnx"]


def phantom_calibration(n_images: int, size: int, seed: int = 1000) -> np.ndarray:
    """``(N, 1, size, size)`` float32 network inputs from phantom frames (all frames of both views).

    Args:
        n_images: how many frames (patients are rendered until there are enough).
        size: the model's input side S.
        seed: phantom dataset seed (default 1000, away from the seeds tests and benchmarks train on).
    """
    from lunet.data.preprocess import prepare_image
    from lunet.data.synthetic import render_patient

    if n_images < 1:
        raise ValueError(f"calibration needs at least 1 image, got {n_images}")
    images: list[np.ndarray] = []
    index = 1
    while len(images) < n_images:
        patient = render_patient(index, seed=seed, size="256")
        for view in patient.views.values():
            images.extend(prepare_image(f.astype(np.float32), view.spacing, size)[0] for f in view.frames)
        index += 1
    return np.stack(images[:n_images])[:, None].astype(np.float32)


class _Reader:
    """An ``onnxruntime.quantization.CalibrationDataReader`` over a fixed batch of inputs.

    A model that also takes LU-Net's ``crop_source`` (2S) is fed the images repeated 2× per side: the
    calibration only needs the activation ranges, which a finer copy of the same frames leaves alike.
    """

    def __init__(self, images: np.ndarray, batch: int = 4, inputs: tuple[str, ...] = ("image",)) -> None:
        from lunet.data.preprocess import CROP_SOURCE_SCALE

        self._chunks = iter([images[i : i + batch] for i in range(0, len(images), batch)])
        self._inputs, self._scale = inputs, CROP_SOURCE_SCALE

    def get_next(self) -> dict[str, np.ndarray] | None:
        chunk = next(self._chunks, None)
        if chunk is None:
            return None
        feeds = {"image": np.ascontiguousarray(chunk)}
        if "crop_source" in self._inputs:
            feeds["crop_source"] = np.ascontiguousarray(chunk.repeat(self._scale, 2).repeat(self._scale, 3))
        return feeds


def quantize_onnx(
    fp32_path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    calibration: np.ndarray,
    per_channel: bool = True,
) -> Path:
    """Quantize an fp32 ONNX model (input ``image``) to INT8 QDQ, atomically.

    Args:
        fp32_path: the exported fp32 model.
        out: destination ``.onnx``.
        calibration: ``(N, 1, S, S)`` float32 normalised images.
        per_channel: one weight scale per output channel (else per tensor).

    Returns:
        ``out``.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from lunet.io import atomic_path

    fp32_path, out = Path(fp32_path), Path(out)
    fp32_proto = onnx.load(str(fp32_path), load_external_data=False)
    props = {p.key: p.value for p in fp32_proto.metadata_props}
    inputs = tuple(i.name for i in fp32_proto.graph.input)
    with atomic_path(out) as tmp:
        pre = tmp.with_name(tmp.name + ".pre.onnx")
        try:
            quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
            quantize_static(
                str(pre), str(tmp), _Reader(calibration, inputs=inputs), quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=per_channel,
                calibrate_method=CalibrationMethod.MinMax,
            )  # fmt: skip
        finally:
            pre.unlink(missing_ok=True)
        proto = onnx.load(str(tmp))
        props.update(quantization="int8-qdq", calibration=f"{len(calibration)} phantom frames (SYNTHETIC)")
        del proto.metadata_props[:]
        for key, value in props.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(proto, str(tmp))
    logger.info("INT8 model written to %s (%d calibration frames)", out, len(calibration))
    return out


def export_int8(
    model_path: str | os.PathLike[str],
    fp32_path: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    n_calibration: int = 32,
) -> Path:
    """``lunet export --int8``: quantize a model's fp32 export (exported first when ``fp32_path`` is None).

    Args:
        model_path: run folder, bundle or checkpoint.
        fp32_path: its current fp32 ONNX export, or None to export it now (to ``<bundle folder>/model.onnx``).
        out: destination (default ``<folder of the fp32 export>/model.int8.onnx``).
        n_calibration: phantom frames used to calibrate the activation ranges.
    """
    from lunet.bundle import Bundle
    from lunet.inference.export import export_onnx

    size = Bundle.open(model_path).size
    fp32 = Path(fp32_path) if fp32_path is not None else export_onnx(model_path)
    target = Path(out) if out is not None else fp32.parent / INT8_FILE
    return quantize_onnx(fp32, target, phantom_calibration(n_calibration, size))
