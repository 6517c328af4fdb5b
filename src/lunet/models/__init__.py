"""Networks of lunet: U-Net1 and its variants, the box regressors, LU-Net, RU-Net.

``create_model``, ``MODELS`` and ``count_parameters`` come from :mod:`lunet.models.registry`; they are loaded
lazily so that importing ``lunet.models.commands`` (the CLI) does not import torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MODELS", "count_parameters", "create_model"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from lunet.models import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'lunet.models' has no attribute {name!r}")
