"""Running a trained model: :class:`Predictor` over a :class:`lunet.bundle.Bundle` or a model in memory.

:meth:`lunet.bundle.Bundle.load_model` rebuilds the network; :class:`Predictor` runs it:
``Predictor(image (B, 1, S, S)[, crop_source (B, 1, 2S, 2S)][, crop_box (B, 4)]) → {name: array}`` with the
output names of :func:`lunet.bundle.model_io` (``logits`` and/or ``box``, or ``roi_logits`` + ``box`` for a
native-crop model); :func:`lunet.models.postprocess.frame_prediction` turns them into labels and a box on the
original grid. Both ``lunet predict`` (:meth:`Predictor.from_bundle`) and a run's own predictions
(:meth:`Predictor.from_model`, :mod:`lunet.training.predictions`) go through it: the torch back-end of one is
the other.

Back-ends of :meth:`Predictor.from_bundle`: ``"auto"`` uses ONNX Runtime when ``<bundle>/model.onnx`` exists
*and* was exported from the same weights (SHA-256 recorded at export,
:meth:`lunet.bundle.Bundle.export_problem`),
otherwise torch eager; ``"onnx"`` requires a current export; ``"torch"`` forces eager mode; ``"int8"``
runs ``model.int8.onnx`` (``lunet export --int8``) on the CPU.

ONNX Runtime sessions (:func:`make_session`, settings measured in ``bench/bench_inference.py``):
``intra_op_num_threads`` = physical cores (hyper-threads slow convolutions down), one inter-op thread (the
graphs are sequential), ``ORT_ENABLE_ALL`` graph optimisation, sequential execution.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lunet.bundle import CROP_BOX, CROP_SOURCE, IMAGE, INT8_FILE, ONNX_FILE, Bundle, BundleError, model_io

if TYPE_CHECKING:
    from torch import nn

logger = logging.getLogger(__name__)


BACKENDS = ("auto", "onnx", "torch", "int8")
#: Output of the first stage (o1) of two-stage models, returned by :meth:`Predictor.from_model` on request.
FIRST_STAGE = "o1_logits"


def output_getters() -> dict[str, Callable[[Any], Any]]:
    """``name → function(model output) → tensor`` for the output names of :func:`model_io` and
    :data:`FIRST_STAGE`."""
    from lunet.models.outputs import final_logits, first_logits, predicted_box

    return {
        "logits": final_logits,
        "box": predicted_box,
        "roi_logits": lambda out: out.roi_logits,
        "coarse_logits": first_logits,
        FIRST_STAGE: first_logits,
    }


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
    """The ``metadata_props`` written by ``export_onnx`` (:meth:`Bundle.export_metadata`)."""
    return dict(session.get_modelmeta().custom_metadata_map)


@dataclass
class Predictor:
    """A loaded model behind one call.

    Attributes:
        model_name: registry name.
        size: input side S in pixels.
        outputs: ``["logits"]``, ``["box"]``, ``["logits", "box"]`` or ``["roi_logits", "box"]`` (+
            ``"o1_logits"`` when :meth:`from_model` was asked for o1).
        backend: ``"torch"``, ``"onnx"`` or ``"int8"``.
        meta: the bundle's ``model.json`` (``{}`` for a model in memory).
        inputs: ``["image"]``, + ``"crop_source"`` for a native-crop model, + ``"crop_box"`` for the oracle.
    """

    model_name: str
    size: int
    outputs: list[str]
    backend: str
    meta: dict[str, Any]
    _run: Callable[[dict[str, np.ndarray]], Sequence[np.ndarray]]
    inputs: list[str] = field(default_factory=lambda: [IMAGE])

    @property
    def source_size(self) -> int | None:
        """Side of the crop source the model takes (2S), or ``None``."""
        from lunet.data.preprocess import crop_source_size

        return crop_source_size(self.size) if CROP_SOURCE in self.inputs else None

    def __call__(
        self, batch: np.ndarray, crop_source: np.ndarray | None = None, crop_box: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Run a batch.

        Args:
            batch: (B, 1, S, S) float32 normalised images.
            crop_source: (B, 1, 2S, 2S) the same frames prepared at :attr:`source_size`; required when the
                model takes it.
            crop_box: (B, 4) normalised reference boxes, for the model that takes them (the oracle).

        Returns:
            ``{"logits": (B, C, S, S) float32, "box": (B, 4) float32}`` or ``{"roi_logits", "box"}`` (the keys
            the model has, :attr:`outputs`).
        """
        feeds = {IMAGE: np.ascontiguousarray(batch, dtype=np.float32)}
        for name, array in ((CROP_SOURCE, crop_source), (CROP_BOX, crop_box)):
            if name in self.inputs and array is None:
                raise ValueError(f"{self.model_name} takes {name}: pass {name}")
            if name not in self.inputs and array is not None:
                raise ValueError(f"{self.model_name} takes no {name}")
            if array is not None:
                feeds[name] = np.ascontiguousarray(array, dtype=np.float32)
        for name, array in feeds.items():
            side = self.size if name == IMAGE else self.source_size
            want = (len(batch), 4) if name == CROP_BOX else (len(batch), 1, side, side)
            if array.shape != want:
                raise ValueError(f"expected a {want} {name}, got {array.shape}")
        return dict(zip(self.outputs, self._run(feeds)))

    @classmethod
    def from_model(
        cls,
        model: nn.Module,
        size: int,
        *,
        device: str = "cpu",
        atrium: bool = False,
        first_stage: bool = False,
        meta: dict[str, Any] | None = None,
    ) -> Predictor:
        """A torch :class:`Predictor` of a network in memory (a run's own predictions, ``--backend torch``).

        Args:
            model: a network built by :func:`lunet.models.create_model` (put in eval mode, on ``device``).
            size: its input side S.
            device: torch device.
            atrium: the model was trained on the left atrium (:func:`model_io`: LU-Net's o1 as well).
            first_stage: also return o1 of a two-stage model, as ``"o1_logits"`` (:data:`FIRST_STAGE`;
                torch only, never exported).
            meta: the bundle's ``model.json``, if it came from one.
        """
        import torch

        from lunet.models.registry import spec_of
        from lunet.models.roi import uses_crop_source

        spec = spec_of(model)
        inputs, outputs = model_io(spec, uses_crop_source(model), atrium)
        if first_stage and spec.two_stage:
            outputs = [*outputs, FIRST_STAGE]
        getters = output_getters()
        model = model.to(device).eval()

        def run(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
            with torch.inference_mode():
                tensors = {k: torch.from_numpy(v).to(device) for k, v in feeds.items()}
                out = model(tensors.pop(IMAGE), **tensors)
                return [getters[n](out).float().cpu().numpy() for n in outputs]

        return cls(spec.name, int(size), outputs, "torch", dict(meta or {}), run, inputs)

    @classmethod
    def from_session(cls, session: Any, bundle: Bundle, backend: str = "onnx") -> Predictor:
        """A :class:`Predictor` over an ONNX Runtime session of ``bundle``; its inputs and outputs are the
        graph's."""
        inputs = [i.name for i in session.get_inputs()]
        names = [o.name for o in session.get_outputs()]
        run = lambda feeds: session.run(names, feeds)  # noqa: E731
        return cls(bundle.name, bundle.size, names, backend, bundle.meta, run, inputs)

    @classmethod
    def from_bundle(
        cls, bundle: Bundle, backend: str = "auto", device: str = "cpu", threads: int | None = None
    ) -> Predictor:
        """A :class:`Predictor` of a bundle on ``backend`` (see the module docstring).

        Args:
            bundle: the opened bundle.
            backend: ``auto | onnx | torch | int8``.
            device: torch device for the torch back-end (``cpu``, ``cuda``); ORT picks CUDA when it has it.
            threads: CPU threads (default: physical cores for ONNX Runtime, torch's default for torch).

        Raises:
            BundleError: unloadable model, a model that cannot predict alone, or ``backend="onnx"``/``"int8"``
                without a current export.
        """
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        bundle.check_predicts_alone()
        if backend == "int8":
            path = bundle.folder / INT8_FILE
            problem = bundle.export_problem(path, "--int8")
            if problem:
                raise BundleError(f"--backend int8: {problem}")
            logger.info("predicting with the INT8 model %s (ONNX Runtime)", path)
            session = make_session(path, threads=threads, providers=["CPUExecutionProvider"])
            return cls.from_session(session, bundle, "int8")
        onnx_path = bundle.folder / ONNX_FILE
        problem = None if backend == "torch" else bundle.export_problem(onnx_path)
        if backend == "onnx" and problem:
            raise BundleError(f"--backend onnx: {problem}")
        if backend != "torch" and problem is None:
            logger.info("predicting with ONNX Runtime (%s)", onnx_path)
            return cls.from_session(make_session(onnx_path, threads=threads), bundle, "onnx")
        if backend == "auto":
            logger.info("predicting with torch: %s", problem)
        import torch

        if threads:
            torch.set_num_threads(threads)
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device {device!r} requested but CUDA is not available")
        model = bundle.load_model("cpu")
        return cls.from_model(model, bundle.size, device=device, atrium=bundle.atrium, meta=bundle.meta)
