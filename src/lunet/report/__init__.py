"""The HTML report for one or more runs: the answer first (a summary with paired differences to the baseline),
the worst cases, ours beside the papers, clinical and distance plots, the paper's tables.

``write_report(runs, out_html, data_dir=None)`` is the entry point. It reads each run's evaluation files by
exact key (:mod:`lunet.evaluation.schema`). This package imports nothing at import time: ``write_report`` and
``ReportInputError`` load their modules (numpy, the evaluation; matplotlib only when a plot is drawn) on first
use, so ``lunet --help`` (which imports ``lunet.report.commands``) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lunet.report.html import write_report
    from lunet.report.readers import ReportInputError

__all__ = ["ReportInputError", "write_report"]

_HOMES = {"write_report": "lunet.report.html", "ReportInputError": "lunet.report.readers"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'lunet.report' has no attribute {name!r}")
