"""``lunet synth``: write a synthetic echo phantom dataset in the CAMUS layout (argparse only at import)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``synth`` sub-command."""
    parser = subparsers.add_parser(
        "synth",
        help="generate a synthetic echo phantom dataset (CAMUS layout, analytic truth; not CAMUS data)",
        description="Generate synthetic apical 2CH/4CH echo images with exact labels and analytic EDV/ESV/EF "
        "in the CAMUS NIfTI (default) or 2019 .mhd layout.",
    )
    parser.add_argument("--out", default=None, help="dataset root to create (needed unless --preview only)")
    parser.add_argument(
        "--preview",
        default=None,
        metavar="OUT.png",
        help="write a gallery (image | reference) across Good/Medium/Poor and a hard case to OUT.png",
    )
    parser.add_argument("--patients", type=int, default=50, help="number of patients (default 50)")
    parser.add_argument("--format", choices=("nifti", "mhd"), default="nifti", help="on-disk release layout")
    parser.add_argument(
        "--size", choices=("native", "256"), default="native", help="native-like grid or 256x256"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="dataset seed (patient i depends on seed and i only)"
    )
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all usable cores)")
    parser.add_argument(
        "--hard-fraction", type=float, default=0.2, help="fraction of off-centre/small LV cases"
    )
    parser.add_argument(
        "--quality-mix", type=float, nargs=3, default=(0.35, 0.46, 0.19), metavar=("GOOD", "MEDIUM", "POOR")
    )
    parser.add_argument(
        "--circular", action="store_true", help="circular LV sections (b1 = b2): exact Simpson"
    )
    parser.add_argument(
        "--intermediate-frames",
        type=int,
        default=1,
        help="half-sequence frames between ED and ES with --sequence-frames short (default 1)",
    )
    parser.add_argument(
        "--sequence-frames",
        choices=("short", "realistic"),
        default="short",
        help="short: fast default (ED, --intermediate-frames, ES); realistic: the systole at the patient's "
        "frame rate, 10-30 frames as in CAMUS (about 5x slower)",
    )
    parser.add_argument(
        "--cycles",
        type=int,
        default=0,
        help="also write a cine of this many beats per view (*_cine[_gt]; heart rate varies beat to beat; "
        "heavy: about 50 frames per beat). Default 0: none",
    )
    parser.add_argument(
        "--annotation-sd",
        type=float,
        default=0.0,
        metavar="MM",
        help="displace the reference contours like a second observer's (smooth, d_m about 0.8 x MM); the "
        "analytic volumes stay the truth. Default 0: exact references",
    )
    parser.add_argument(
        "--lvot-fraction",
        type=float,
        default=0.3,
        metavar="F",
        help="fraction of 4CH views showing the LV outflow tract / aortic root (unlabelled, as in CAMUS; "
        "labels and volumes unchanged). Default 0.3",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run_synth)


def run_synth(args: argparse.Namespace) -> int:
    if args.out is None and args.preview is None:
        raise SystemExit("lunet synth: give --out DIR (a dataset), --preview OUT.png (a gallery), or both")
    if args.preview is not None:
        from lunet.data.synthetic.preview import write_preview

        print(f"wrote {write_preview(args.preview, seed=args.seed)} (synthetic phantom, not CAMUS)")
    if args.out is None:
        return 0
    from lunet.data.synthetic.generate import generate_dataset
    from lunet.data.synthetic.patient import PhantomOptions

    options = PhantomOptions(
        size=args.size,
        hard_fraction=args.hard_fraction,
        quality_mix=tuple(args.quality_mix),
        circular=args.circular,
        intermediate_frames=args.intermediate_frames,
        sequence_frames=args.sequence_frames,
        cycles=args.cycles,
        annotation_sd_mm=args.annotation_sd,
        lvot_fraction=args.lvot_fraction,
    )
    out = generate_dataset(
        args.out,
        args.patients,
        options,
        fmt=args.format,
        seed=args.seed,
        workers=args.workers,
        progress=False if args.no_progress else None,
    )
    print(f"wrote {args.patients} synthetic patients to {out} (synthetic phantom, not CAMUS)")
    return 0
