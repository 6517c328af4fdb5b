"""Training of lunet: losses, the Lightning module and data module, ``train`` and ``cross_validate``.

The public functions are loaded lazily so that importing ``lunet.training.commands`` (the CLI) does not import
torch or Lightning.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "train": "lunet.training.fit",
    "cross_validate": "lunet.training.cv",
    "gather_predictions": "lunet.training.cv",
    "predict_rows": "lunet.training.predictions",
    "soft_dice_loss": "lunet.training.losses",
    "box_l1_loss": "lunet.training.losses",
    "composite_loss": "lunet.training.losses",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'lunet.training' has no attribute {name!r}")
