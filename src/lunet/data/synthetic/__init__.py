"""Synthetic apical echo phantom with analytic ground truth, written in the CAMUS layouts.

Public API: ``generate_dataset`` (files), ``render_patient`` (in memory), ``sample_patient`` /
``sample_heart`` and ``lv_volume_ml`` (the 3-D model), ``rasterise_view_label`` (a view's exact label
at any spacing). Attributes load lazily so that ``lunet.data.synthetic.commands`` stays cheap to import.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Heart": "anatomy",
    "PhaseGeometry": "anatomy",
    "lv_volume_ml": "anatomy",
    "sample_heart": "anatomy",
    "generate_dataset": "generate",
    "PatientRender": "patient",
    "PhantomOptions": "patient",
    "ViewRender": "patient",
    "render_patient": "patient",
    "ViewLabel": "views",
    "rasterise_view_label": "views",
    "sample_patient": "views",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"lunet.data.synthetic.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'lunet.data.synthetic' has no attribute {name!r}")
