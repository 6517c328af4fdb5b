"""ONNX Runtime sessions tuned for CPU inference, and what an exported model says about itself.

Settings (measured in ``bench/bench_inference.py``): ``intra_op_num_threads`` = physical cores
(hyper-threads slow convolutions down), one inter-op thread (the graphs are sequential), ``ORT_ENABLE_ALL``
graph optimisation, sequential execution.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def physical_cores() -> int:
    """Physical CPU cores usable by this process (sibling hyper-threads counted once; ≥ 1)."""
    try:
        usable = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return max(1, (os.cpu_count() or 2) // 2)
    cores = set()
    for cpu in usable:
        siblings = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list")
        try:
            cores.add(siblings.read_text().strip())
        except OSError:
            cores.add(str(cpu))
    return max(1, len(cores))


def make_session(
    path: str | os.PathLike[str], threads: int | None = None, providers: list[str] | None = None
) -> Any:
    """An ``onnxruntime.InferenceSession`` for ``path``.

    Args:
        path: ``.onnx`` file.
        threads: intra-op threads (default: :func:`physical_cores`).
        providers: execution providers (default: CUDA first when onnxruntime has it, then CPU).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or physical_cores()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    available = ort.get_available_providers()
    if providers is None:
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    return ort.InferenceSession(str(path), sess_options=options, providers=providers)


def onnx_metadata(session: Any) -> dict[str, str]:
    """The ``metadata_props`` written by ``export_onnx`` (model, size, weights hash)."""
    return dict(session.get_modelmeta().custom_metadata_map)
