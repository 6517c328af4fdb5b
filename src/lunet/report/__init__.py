"""The HTML report for one or more runs: the answer first (a summary with paired differences to the baseline),
the worst cases, ours beside the papers, clinical and distance plots, the paper's tables.

``write_report(runs, out_html, data_dir=None)`` is the entry point; matplotlib is imported only when a report
is built. It reads each run's evaluation files by exact key (:mod:`lunet.evaluation.schema`).
"""

from lunet.report.html import write_report
from lunet.report.readers import ReportInputError

__all__ = ["ReportInputError", "write_report"]
