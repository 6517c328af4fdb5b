"""``lunet predict --sequence`` flags and their options (kept apart so the predict command stays small)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lunet.inference.sequence import SequenceOptions


def add_sequence_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of whole-sequence prediction."""
    group = parser.add_argument_group("whole sequences (--sequence)")
    group.add_argument(
        "--sequence", action="store_true",
        help="segment whole cines only (multi-frame NIfTI/MHD/DICOM, every cine under a folder whatever its "
        "name; a CAMUS patient folder gives both views): mask series, LV area curve, ED/ES per beat, EF for "
        "patients with both views, plot and GIF. Without it, cines among the inputs get the same outputs "
        "and single images are segmented as images",
    )  # fmt: skip
    group.add_argument(
        "--sequence-kind", choices=("auto", "half", "cycle"), default="auto",
        help="half: one ED and ES; cycle: one per beat; auto: CAMUS files are half cycles",
    )  # fmt: skip
    group.add_argument(
        "--temporal-sigma", type=float, default=0.0,
        help="smooth the probabilities along time (Gaussian, in frames; default 0: off)",
    )  # fmt: skip


def sequence_options(args: argparse.Namespace) -> SequenceOptions:
    """The :class:`lunet.inference.sequence.SequenceOptions` of the command line (checked)."""
    from lunet.inference.sequence import SequenceOptions

    if args.temporal_sigma < 0:
        raise ValueError(f"--temporal-sigma must be ≥ 0, got {args.temporal_sigma}")
    if args.batch_size < 1:
        raise ValueError(f"batch size must be ≥ 1, got {args.batch_size}")
    return SequenceOptions(
        kind=args.sequence_kind, temporal_sigma=args.temporal_sigma, batch_size=args.batch_size,
        animation=not args.no_overlay, ef_convention=args.ef_convention or "geometric",
        intervals=not getattr(args, "no_intervals", False),
    )  # fmt: skip
