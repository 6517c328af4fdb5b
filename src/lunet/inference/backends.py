"""Prediction back-ends of ``lunet predict``: a path to a :class:`lunet.predictor.Predictor`.

The back-ends themselves (torch, ONNX Runtime, INT8) and the stale-export rule live with the model they run:
:class:`lunet.bundle.Bundle` and :meth:`lunet.predictor.Predictor.from_bundle`.
"""

from __future__ import annotations

import os

from lunet.bundle import Bundle
from lunet.predictor import BACKENDS, Predictor

__all__ = ["BACKENDS", "Predictor", "load_predictor"]


def load_predictor(
    model_path: str | os.PathLike[str], backend: str = "auto", device: str = "cpu", threads: int | None = None
) -> Predictor:
    """Load a run folder, bundle or checkpoint for prediction.

    Args:
        model_path: run folder, ``model.safetensors``/``model.json`` or ``checkpoints/*.ckpt``.
        backend: ``auto | onnx | torch | int8`` (:mod:`lunet.bundle`).
        device: torch device for the torch back-end (``cpu``, ``cuda``).
        threads: CPU threads (default: physical cores for ONNX Runtime, torch's default for torch).

    Raises:
        BundleError: unloadable model, or ``backend="onnx"``/``"int8"`` without a current export.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    return Predictor.from_bundle(Bundle.open(model_path), backend, device, threads)
