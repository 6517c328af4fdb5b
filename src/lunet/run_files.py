"""Where a trained run keeps its files: the folder of a run, bundle or checkpoint, the weights' SHA-256, and
the trained folds of a cross-validation (``lunet cv``). Standard library only, below every area:
:mod:`lunet.bundle` opens what these name, the inference and CLI code finds ensembles with :func:`cv_members`.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["META_FILE", "WEIGHTS_FILE", "cv_members", "file_sha256", "run_folder", "weights_sha256"]

#: A bundle's weights (tensors only) and its description (:mod:`lunet.bundle`).
WEIGHTS_FILE = "model.safetensors"
META_FILE = "model.json"


def run_folder(path: str | os.PathLike[str]) -> Path:
    """The folder holding ``model.json`` for a run folder, bundle file or ``checkpoints/*.ckpt``."""
    path = Path(path)
    if path.is_dir():
        return path
    if path.suffix == ".ckpt" and path.parent.name == "checkpoints":
        return path.parent.parent
    return path.parent


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_sha256(folder: str | os.PathLike[str]) -> str:
    """SHA-256 of a run or bundle folder's ``model.safetensors``, or ``""`` when it has none."""
    path = Path(folder) / WEIGHTS_FILE
    return file_sha256(path) if path.is_file() else ""


def cv_members(path: str | os.PathLike[str]) -> list[Path]:
    """The trained folds of a cross-validation run folder (``lunet cv``): ``fold_K`` folders holding
    ``model.safetensors``, by K. Anything else (a run, a bundle, a checkpoint, a cross-validation none of
    whose folds has finished) gives ``[]``. A folder with its own ``model.json`` is a model, not an
    ensemble."""
    path = Path(path)
    if not path.is_dir() or (path / META_FILE).is_file() or (path / WEIGHTS_FILE).is_file():
        return []
    folds = []
    for child in path.iterdir():
        number = child.name.removeprefix("fold_")
        if child.name.startswith("fold_") and number.isdigit() and (child / WEIGHTS_FILE).is_file():
            folds.append((int(number), child))
    return [folder for _, folder in sorted(folds)]
