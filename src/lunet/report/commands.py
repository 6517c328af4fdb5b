"""``lunet report``: one self-contained HTML report over run folders."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``lunet report`` to the CLI."""
    parser = subparsers.add_parser(
        "report",
        help="write one self-contained HTML report comparing runs",
        description="One HTML file with embedded images: a summary table (one row per model, paired "
        "differences to the first run with bootstrap intervals), the worst/median/best cases, the papers' "
        "tables as ours / paper, clinical and distance plots, Tables I-IV of LU-Net (runs without "
        "evaluation/ are evaluated first).",
    )
    parser.add_argument(
        "runs", nargs="+", metavar="RUN", help="run folders (config.json, predictions/, evaluation/)"
    )
    parser.add_argument("--out", default="report.html", help="HTML file to write (default: report.html)")
    parser.add_argument(
        "--data",
        default=None,
        help="CAMUS-layout data folder for the gallery (default: each run's config 'data')",
    )
    parser.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    """Write the report and print its path and size."""
    from pathlib import Path

    from lunet.report.html import write_report

    out = write_report([Path(r) for r in args.runs], Path(args.out), Path(args.data) if args.data else None)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0
