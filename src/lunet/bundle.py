"""Model bundles: what it takes to open and run a trained model, in one place (:class:`Bundle`).

A bundle is two files side by side in a folder (usually the run folder):

- ``model.safetensors`` — the model's ``state_dict`` (tensors only: nothing in it can run code);
- ``model.json`` — what is needed to rebuild the network and use it: ``{"model": registry name,
  "overrides": {...create_model keyword arguments...}, "size": input side in pixels, "box_margin": the margin
  ``m`` of the model's reference boxes (box models only), "bundle_format", "lunet_version",
  "config": {...the training config...}, "epoch", "labels": [0, 1, 2, 3]}``.

``labels`` (written since the left atrium is trained by default) lists the labels the model outputs: ``[0, 1,
2, 3]`` when its loss covered the LA (label 3), else ``[0, 1, 2]``. A ``model.json`` without it was written
before: :func:`trained_labels` then reads the recorded config's ``dice_classes`` (none recorded: LV and
myocardium only), so an old bundle keeps predicting as it was trained, its untrained LA channel merged into
the background (:mod:`lunet.models.postprocess`).

:class:`Bundle` opens a run folder, either file, or a Lightning ``.ckpt`` (read with ``weights_only=True``;
``model.json`` then sits in the run folder above ``checkpoints/``) and answers from ``model.json`` alone:
the network's options after format upgrades, its input size, box margin, crop source, the input and output
names every back-end uses, the weights' SHA-256 and whether an ONNX export next to it is current.
:meth:`Bundle.load_model` rebuilds the network; :class:`lunet.predictor.Predictor` runs it (back-ends,
ONNX Runtime sessions).
"""

from __future__ import annotations

import inspect
import json
import logging
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lunet import __version__
from lunet.boxes import DEFAULT_BOX_MARGIN
from lunet.io import atomic_path, write_text_atomic
from lunet.run_files import META_FILE, WEIGHTS_FILE, file_sha256, run_folder

if TYPE_CHECKING:
    from torch import nn

    from lunet.models.registry import ModelSpec

logger = logging.getLogger(__name__)

ONNX_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
#: Input side of a ``model.json`` without ``"size"`` (the papers' 256; every lunet bundle records its own).
DEFAULT_SIZE = 256
#: ``model.json`` layout: 2 = ``box_margin`` override and ``crop_grid`` of the crop models (2026-11-30);
#: a bundle without the key was written before (``margin`` override, ROI cropped on the network grid).
#: The top-level ``box_margin`` (2026-12-04) is additive: a bundle without it reads its overrides.
BUNDLE_FORMAT = 2
#: Input names: the network input, the oracle's reference box, the 2S crop source of native-crop models.
IMAGE, CROP_BOX, CROP_SOURCE = "image", "crop_box", "crop_source"


class BundleError(ValueError):
    """A model bundle or checkpoint that cannot be loaded (message names the file)."""


def model_io(spec: ModelSpec, crop_source: bool, atrium: bool = False) -> tuple[list[str], list[str]]:
    """Input and output names of a model (ONNX graph names, :class:`Predictor` keys).

    Args:
        spec: its registry entry.
        crop_source: it crops its ROI from the 2S crop source (``crop_grid="native"``).
        atrium: it was trained on the left atrium (:func:`atrium_trained`): LU-Net then adds
            ``coarse_logits`` (o1, full image), whose LA lies outside the box
            (:func:`lunet.models.postprocess.frame_labels`).

    Returns:
        ``(inputs, outputs)``: inputs ``image`` (+ ``crop_box`` for the oracle, + ``crop_source``); outputs
        ``roi_logits`` and ``box`` for a native-crop model, else ``logits`` and/or ``box`` (+
        ``coarse_logits``).
    """
    inputs = (
        [IMAGE] + ([CROP_BOX] if spec.needs_reference_box else []) + ([CROP_SOURCE] if crop_source else [])
    )
    extra = ["coarse_logits"] if atrium and spec.crops_roi and spec.two_stage else []  # LU-Net
    if crop_source:
        return inputs, ["roi_logits", "box", *extra]
    outputs = [name for name, has in (("logits", spec.has_segmentation), ("box", spec.has_box)) if has]
    return inputs, outputs + extra


def _dice_classes(config: Any) -> tuple[int, ...] | None:
    """``dice_classes`` of a recorded training config (nested format 2 or flat format 1), or None."""
    if not isinstance(config, dict):
        return None
    loss = config.get("loss")
    classes = loss.get("dice_classes") if isinstance(loss, dict) else config.get("dice_classes")
    if not isinstance(classes, list | tuple):
        return None
    return tuple(int(c) for c in classes)


def trained_labels(meta: dict[str, Any]) -> tuple[int, ...]:
    """Labels a bundle's model outputs: ``(0, 1, 2, 3)`` when it was trained on the left atrium, else
    ``(0, 1, 2)``.

    From ``meta["labels"]`` when the bundle records it; else from its recorded config's ``dice_classes``
    (label 3 among them); a bundle with neither predates the LA and outputs LV and myocardium only.
    """
    from lunet.data.labels import Label

    if isinstance(meta.get("labels"), list | tuple):
        return tuple(int(v) for v in meta["labels"])
    classes = _dice_classes(meta.get("config"))
    trained = classes is not None and int(Label.LA) in classes
    return (0, 1, 2, 3) if trained else (0, 1, 2)


def atrium_trained(meta: dict[str, Any]) -> bool:
    """Whether a bundle's model segments the left atrium (label 3 in :func:`trained_labels`)."""
    return 3 in trained_labels(meta)


def save_bundle(folder: str | Path, model: Any, meta: dict[str, Any]) -> Path:
    """Write ``model.safetensors`` and ``model.json`` atomically into ``folder``.

    Args:
        folder: destination folder (created).
        model: a ``torch.nn.Module`` built by ``lunet.models.create_model``.
        meta: must hold ``"model"`` (registry name); ``"overrides"``, ``"size"``, ``"config"`` and
            ``"labels"`` are optional (``labels`` is derived from ``config`` when absent). ``"box_margin"`` is
            recorded from the model itself (its hyper-parameter), if it has one.

    Returns:
        the folder.
    """
    from safetensors.torch import save_file

    if "model" not in meta:
        raise ValueError("save_bundle: meta must name the registry model under 'model'")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(folder / WEIGHTS_FILE) as tmp:
        save_file(state, str(tmp))
    full_meta = {"overrides": {}, "lunet_version": __version__, "bundle_format": BUNDLE_FORMAT, **meta}
    full_meta.pop("margin", None)  # a spelling no lunet release read; the margin is the model's box_margin
    if hasattr(model, "box_margin"):
        full_meta["box_margin"] = float(model.box_margin)
    if "config" in meta:  # the labels the model outputs, read by predict without parsing the config
        full_meta.setdefault("labels", list(trained_labels(meta)))
    write_text_atomic(folder / META_FILE, json.dumps(full_meta, indent=2, sort_keys=True, default=str))
    return folder


def read_bundle_meta(path: str | Path) -> dict[str, Any]:
    """The ``model.json`` of a bundle folder (or of the folder holding ``path``)."""
    path = Path(path)
    meta_path = path / META_FILE if path.is_dir() else path.with_name(META_FILE)
    if not meta_path.is_file():
        raise BundleError(f"{meta_path}: no model.json here; expected a lunet run folder or model bundle")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as err:
        raise BundleError(f"{meta_path}: not valid JSON ({err})") from None
    if not isinstance(meta, dict) or "model" not in meta:
        raise BundleError(f"{meta_path}: missing the 'model' key naming the network")
    return meta


def upgraded_overrides(meta: dict[str, Any]) -> dict[str, Any]:
    """The ``create_model`` overrides of a bundle, translated from an older ``model.json`` layout.

    A bundle without ``bundle_format`` was written before the box margin became ``box_margin`` and before
    LU-Net / the oracle cropped their ROI at native resolution: ``margin`` is renamed, and the crop models
    keep the network-grid crop they were trained with (``crop_grid="network"``).
    """
    from lunet.models.registry import get_spec

    overrides = dict(meta.get("overrides") or {})
    if int(meta.get("bundle_format", 1)) >= 2:
        return overrides
    if "margin" in overrides:
        overrides.setdefault("box_margin", overrides.pop("margin"))
    if get_spec(meta["model"]).crops_roi:
        overrides.setdefault("crop_grid", "network")
    logger.info(
        "model.json written by lunet %s (bundle format 1): options read as %s",
        meta.get("lunet_version", "?"),
        overrides,
    )
    return overrides


def _constructor_default(spec: ModelSpec, option: str) -> Any:
    return inspect.signature(spec.builder).parameters[option].default


@dataclass(frozen=True)
class Bundle:
    """A trained model on disk: its files, what ``model.json`` says, and how to rebuild it.

    Attributes:
        path: what the user gave (run folder, ``model.safetensors``, ``model.json`` or a ``.ckpt``).
        folder: the folder holding ``model.json`` (and ``model.onnx``, ``model.int8.onnx`` once exported).
        meta: ``model.json`` as written.
    """

    path: Path
    folder: Path
    meta: dict[str, Any]

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Bundle:
        """Read the bundle at ``path``.

        Raises:
            BundleError: no such path, no or an invalid ``model.json`` (the message names the file).
        """
        path = Path(path)
        if not path.exists():
            raise BundleError(f"{path}: no such model file or folder")
        folder = run_folder(path)
        return cls(path, folder, read_bundle_meta(folder))

    @property
    def name(self) -> str:
        """Registry name of the network."""
        return str(self.meta["model"])

    @cached_property
    def spec(self) -> ModelSpec:
        """Its registry entry (:class:`lunet.models.registry.ModelSpec`)."""
        from lunet.models.registry import get_spec

        return get_spec(self.name)

    @cached_property
    def overrides(self) -> dict[str, Any]:
        """``create_model`` options, upgraded from an older layout (:func:`upgraded_overrides`)."""
        return upgraded_overrides(self.meta)

    @property
    def size(self) -> int:
        """Network input side S in pixels (:data:`DEFAULT_SIZE` when ``model.json`` has none)."""
        return int(self.meta.get("size", DEFAULT_SIZE))

    @property
    def box_margin(self) -> float:
        """Margin ``m`` of the model's reference boxes: ``model.json``'s ``box_margin``, else (bundles written
        before it was recorded) the ``box_margin`` option the model was built with, else the default."""
        if "box_margin" in self.meta:
            return float(self.meta["box_margin"])
        return float(self.overrides.get("box_margin", DEFAULT_BOX_MARGIN))

    @property
    def crop_grid(self) -> str | None:
        """Where a crop model crops its ROI from (``"native"``: the 2S crop source; ``"network"``: the S×S
        input), ``None`` for a model that does not crop."""
        if not self.spec.crops_roi:
            return None
        return str(self.overrides.get("crop_grid", _constructor_default(self.spec, "crop_grid")))

    @property
    def source_size(self) -> int | None:
        """Side of the crop source the model takes (2S), or ``None``."""
        from lunet.data.preprocess import crop_source_size

        return crop_source_size(self.size) if self.crop_grid == "native" else None

    @property
    def labels(self) -> tuple[int, ...]:
        """Labels the model outputs (:func:`trained_labels`): ``(0, 1, 2, 3)`` when trained on the LA."""
        return trained_labels(self.meta)

    @property
    def atrium(self) -> bool:
        """Whether the model segments the left atrium (:func:`atrium_trained`)."""
        return atrium_trained(self.meta)

    @property
    def inputs(self) -> list[str]:
        """Input names (:func:`model_io`)."""
        return model_io(self.spec, self.source_size is not None, self.atrium)[0]

    @property
    def outputs(self) -> list[str]:
        """Output names (:func:`model_io`)."""
        return model_io(self.spec, self.source_size is not None, self.atrium)[1]

    @property
    def weights(self) -> Path:
        """The weights file: the ``.ckpt`` itself, else the bundle's ``model.safetensors``."""
        return self.path if self.path.suffix == ".ckpt" else self.folder / WEIGHTS_FILE

    @cached_property
    def weights_sha256(self) -> str:
        """SHA-256 (hex) of :attr:`weights`."""
        return file_sha256(self.weights)

    def check_predicts_alone(self) -> None:
        """Raise :class:`BundleError` for a model that needs the reference box as input (the oracle)."""
        if self.spec.needs_reference_box:
            raise BundleError(
                f"model {self.name!r} needs the reference box as input; it cannot predict on its own"
            )

    def export_metadata(self) -> dict[str, str]:
        """What an ONNX export of this bundle records about itself (``metadata_props``)."""
        return {
            "lunet_model": self.name,
            "size": str(self.size),
            "weights_sha256": self.weights_sha256,
            "inputs": ",".join(self.inputs),
            "outputs": ",".join(self.outputs),
            "lunet_version": str(self.meta.get("lunet_version", "")),
        }

    def export_problem(self, onnx_path: str | os.PathLike[str], command: str = "--format onnx") -> str | None:
        """``None`` when ``onnx_path`` is a current export of this bundle (same model, same weights), else why
        not (the one stale-export check of the fp32 and INT8 back-ends).

        Args:
            onnx_path: ``model.onnx`` or ``model.int8.onnx``.
            command: the ``lunet export`` option that writes it, for the message.
        """
        onnx_path = Path(onnx_path)
        if not onnx_path.is_file():
            return f"{onnx_path} does not exist (run `lunet export --model {self.path} {command}`)"
        import onnx

        try:
            proto = onnx.load(str(onnx_path), load_external_data=False)
        except Exception as err:
            return f"{onnx_path}: unreadable ONNX file ({type(err).__name__})"
        props = {p.key: p.value for p in proto.metadata_props}
        if props.get("lunet_model") != self.name:
            return f"{onnx_path} was exported from model {props.get('lunet_model')!r}, not {self.name!r}"
        if props.get("weights_sha256") != self.weights_sha256:
            return f"{onnx_path} is stale: exported from other weights (run `lunet export` again)"
        return None

    def load_model(self, map_location: str = "cpu") -> nn.Module:
        """Rebuild the network and load its weights without executing code from the files (eval mode).

        Raises:
            BundleError: a missing, unreadable or refused weights file, or weights of another network.
        """
        import torch

        from lunet.models import create_model

        if self.path.suffix == ".ckpt":
            try:
                ckpt = torch.load(self.path, map_location=map_location, weights_only=True)
            except Exception as err:  # pickle refusing a global, truncated zip, ...
                reason = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
                raise BundleError(
                    f"{self.path}: refused or unreadable checkpoint ({reason}); "
                    "lunet loads checkpoints with weights_only=True and never runs code from them"
                ) from None
            state = {k.removeprefix("model."): v for k, v in ckpt.get("state_dict", ckpt).items()}
        else:
            if not self.weights.is_file():
                raise BundleError(f"{self.weights}: missing weights file of the bundle")
            from safetensors.torch import load_file

            try:
                state = load_file(str(self.weights), device=map_location)
            except Exception as err:
                raise BundleError(f"{self.weights}: unreadable safetensors file ({err})") from None
        model = create_model(self.name, **self.overrides)
        try:
            model.load_state_dict(state)
        except RuntimeError as err:
            raise BundleError(
                f"{self.path}: weights do not match model {self.name!r}: {str(err)[:300]}"
            ) from None
        return model.eval()


def load_bundle(path: str | Path, map_location: str = "cpu") -> tuple[Any, dict[str, Any]]:
    """Rebuild a model and load its weights without executing code from the files.

    Args:
        path: a bundle folder (or run folder), ``model.safetensors``, ``model.json``, or a Lightning ``.ckpt``
            (then ``model.json`` must sit in the run folder above ``checkpoints/``).

    Returns:
        ``(model in eval mode, meta dict)`` (:meth:`Bundle.load_model`, :attr:`Bundle.meta`).
    """
    bundle = Bundle.open(path)
    return bundle.load_model(map_location), bundle.meta
