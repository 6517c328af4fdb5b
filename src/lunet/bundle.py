"""Model bundles: the trained weights of a run, loadable without executing code.

A bundle is two files side by side in a folder (usually the run folder):

- ``model.safetensors`` — the model's ``state_dict`` (tensors only: nothing in it can run code);
- ``model.json`` — what is needed to rebuild the network and use it: ``{"model": registry name,
  "overrides": {...create_model keyword arguments...}, "size": input side in pixels, "margin": box margin,
  "lunet_version": ..., "config": {...the training config...}, "labels": [0, 1, 2, 3]}``.

``labels`` (written since the left atrium is trained by default) lists the labels the model outputs: ``[0, 1,
2, 3]`` when its loss covered the LA (label 3), else ``[0, 1, 2]``. A ``model.json`` without it was written
before: :func:`trained_labels` then reads the recorded config's ``dice_classes`` (none recorded: LV and
myocardium only), so an old bundle keeps predicting as it was trained, its untrained LA channel merged into
the background (:mod:`lunet.models.postprocess`).

``load_bundle`` accepts the folder, either file, or a Lightning ``.ckpt`` (read with ``weights_only=True``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from lunet import __version__
from lunet.io import atomic_path, write_text_atomic

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "model.safetensors"
META_FILE = "model.json"
#: ``model.json`` layout: 2 = ``box_margin`` override and ``crop_grid`` of the crop models (2026-11-30);
#: a bundle without the key was written before (``margin`` override, ROI cropped on the network grid).
BUNDLE_FORMAT = 2
#: Models whose crop moved from the network grid to the native-resolution source in format 2.
_CROP_MODELS = ("lunet", "unet1-oracle")


class BundleError(ValueError):
    """A model bundle or checkpoint that cannot be loaded (message names the file)."""


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
        meta: must hold ``"model"`` (registry name); ``"overrides"``, ``"size"``, ``"margin"``,
            ``"config"`` and ``"labels"`` are optional (``labels`` is derived from ``config`` when absent).

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
    overrides = dict(meta.get("overrides") or {})
    if int(meta.get("bundle_format", 1)) >= BUNDLE_FORMAT:
        return overrides
    if "margin" in overrides:
        overrides.setdefault("box_margin", overrides.pop("margin"))
    if meta.get("model") in _CROP_MODELS:
        overrides.setdefault("crop_grid", "network")
    logger.info(
        "model.json written by lunet %s (bundle format 1): options read as %s",
        meta.get("lunet_version", "?"),
        overrides,
    )
    return overrides


def load_bundle(path: str | Path, map_location: str = "cpu") -> tuple[Any, dict[str, Any]]:
    """Rebuild a model and load its weights without executing code from the files.

    Args:
        path: a bundle folder (or run folder), ``model.safetensors``, ``model.json``, or a Lightning ``.ckpt``
            (then ``model.json`` must sit in the run folder above ``checkpoints/``).

    Returns:
        ``(model in eval mode, meta dict)``.
    """
    import torch

    from lunet.models import create_model

    path = Path(path)
    if not path.exists():
        raise BundleError(f"{path}: no such model file or folder")
    if path.suffix == ".ckpt":
        run_dir = path.parent.parent if path.parent.name == "checkpoints" else path.parent
        meta = read_bundle_meta(run_dir)
        try:
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
        except Exception as err:  # pickle refusing a global, truncated zip, ...
            reason = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            raise BundleError(
                f"{path}: refused or unreadable checkpoint ({reason}); "
                "lunet loads checkpoints with weights_only=True and never runs code from them"
            ) from None
        state = {k.removeprefix("model."): v for k, v in ckpt.get("state_dict", ckpt).items()}
    else:
        folder = path if path.is_dir() else path.parent
        meta = read_bundle_meta(folder)
        weights = folder / WEIGHTS_FILE
        if not weights.is_file():
            raise BundleError(f"{weights}: missing weights file of the bundle")
        from safetensors.torch import load_file

        try:
            state = load_file(str(weights), device=map_location)
        except Exception as err:
            raise BundleError(f"{weights}: unreadable safetensors file ({err})") from None
    model = create_model(meta["model"], **upgraded_overrides(meta))
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise BundleError(f"{path}: weights do not match model {meta['model']!r}: {str(err)[:300]}") from None
    model.eval()
    return model, meta
