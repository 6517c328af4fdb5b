"""``lunet predict --sequence`` flags and runner (kept apart so the predict command stays small)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lunet.limits import SizeLimits


def add_sequence_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of whole-sequence prediction."""
    group = parser.add_argument_group("whole sequences (--sequence)")
    group.add_argument(
        "--sequence", action="store_true",
        help="segment whole cines (CAMUS *_sequence/*_half_sequence, multi-frame DICOM, CAMUS patient "
        "folders): mask series, LV area curve, ED/ES per beat, EF for patients with both views, plot and GIF",
    )  # fmt: skip
    group.add_argument(
        "--sequence-kind", choices=("auto", "half", "cycle"), default="auto",
        help="half: one ED and ES; cycle: one per beat; auto: CAMUS files are half cycles",
    )  # fmt: skip
    group.add_argument(
        "--temporal-sigma", type=float, default=0.0,
        help="smooth the probabilities along time (Gaussian, in frames; default 0: off)",
    )  # fmt: skip


def run_predict_sequences(args: argparse.Namespace, limits: SizeLimits | None = None) -> int:
    from lunet.inference.sequence import SequenceOptions
    from lunet.inference.sequence_outputs import predict_sequences

    if args.temporal_sigma < 0:
        raise ValueError(f"--temporal-sigma must be ≥ 0, got {args.temporal_sigma}")
    if args.batch_size < 1:
        raise ValueError(f"batch size must be ≥ 1, got {args.batch_size}")
    options = SequenceOptions(
        kind=args.sequence_kind, temporal_sigma=args.temporal_sigma, batch_size=args.batch_size,
        animation=not args.no_overlay, ef_convention=args.ef_convention or "geometric",
    )  # fmt: skip
    rows = predict_sequences(
        args.model, args.inputs, args.out, options, spacing=tuple(args.spacing) if args.spacing else None,
        backend=args.backend, device=args.device, threads=args.threads, limits=limits,
    )  # fmt: skip
    done = sum(row["status"] == "ok" for row in rows)
    summary = Path(args.out) / "sequences" / "summary.csv"
    print(f"{done} sequences predicted, {len(rows) - done} failed; see {summary}")
    return 0 if done else 1
