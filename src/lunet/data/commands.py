"""Data sub-commands: ``lunet data summary``, ``lunet folds``, ``lunet preprocess``.

Only argparse is imported here; the work is imported inside the command functions.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lunet.limits import SizeLimits


def _positive(text: str) -> int:
    try:
        value = int(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def add_limit_arguments(parser: argparse.ArgumentParser) -> None:
    """``--max-pixels``, ``--max-frames``, ``--max-decoded-mb``: input size limits, as ``lunet predict``."""
    from lunet.limits import DEFAULT_MAX_BYTES, DEFAULT_MAX_FRAMES, DEFAULT_MAX_PIXELS

    default_mb = DEFAULT_MAX_BYTES >> 20

    parser.add_argument("--max-pixels", type=_positive, default=DEFAULT_MAX_PIXELS,
                        help=f"refuse frames of more pixels (default {DEFAULT_MAX_PIXELS})")  # fmt: skip
    parser.add_argument("--max-frames", type=_positive, default=DEFAULT_MAX_FRAMES,
                        help=f"refuse files of more frames (default {DEFAULT_MAX_FRAMES})")  # fmt: skip
    parser.add_argument("--max-decoded-mb", type=_positive, default=default_mb,
                        help=f"refuse files decoding to more MiB (default {default_mb})")  # fmt: skip
    parser.set_defaults(limits_command=parser.prog)  # "lunet data summary": named by a refusal


def limits_of(args: argparse.Namespace) -> SizeLimits:
    """The :class:`lunet.limits.SizeLimits` of the ``--max-*`` flags, naming the command that took them."""
    from lunet.limits import SizeLimits

    command = getattr(args, "limits_command", "")
    return SizeLimits(args.max_pixels, args.max_frames, args.max_decoded_mb * 2**20, command)


def _summary(args: argparse.Namespace) -> int:
    import json

    from lunet.data.summary import format_summary, summarize

    summary = summarize(args.root, limits_of(args))
    print(json.dumps(summary, indent=1) if args.json else format_summary(summary))
    return 0


def _folds(args: argparse.Namespace) -> int:
    import logging

    from lunet.data.camus import scan_camus
    from lunet.data.folds import choose_folds, is_phantom_root, write_fold_lists

    dataset = scan_camus(args.root)
    patients = dataset.with_ground_truth
    left_out = len(dataset.patients) - len(patients)
    if left_out:
        logging.getLogger(__name__).info("%d patients without ground truth left out of the folds", left_out)
    folds, source = choose_folds(
        patients, generated=args.generated, synthetic=is_phantom_root(args.root), n_folds=args.n_folds,
        seed=args.seed,
    )  # fmt: skip
    out = write_fold_lists(folds, args.out)
    print(f"wrote {len(folds)} {source} folds of {len(patients)} patients to {out}")
    return 0


def _preprocess(args: argparse.Namespace) -> int:
    from lunet.data.cache import CachedImages, build_cache

    limits = limits_of(args)
    path = build_cache(
        args.root, args.cache, args.size, args.workers, frames=args.frames, limits=limits,
        crop_source=not args.no_crop_source,
    )  # fmt: skip
    what = "frames (ED/ES, then every annotated sequence frame)" if args.frames == "all" else "images"
    count = len(CachedImages(path))
    if count == 0:
        raise ValueError(
            f"{args.root}: no frame cached, every patient was skipped (reasons in {path}/index.json)"
        )
    print(f"cache ready: {path} ({count} {what} at {args.size}x{args.size})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the data sub-commands to the ``lunet`` parser (``lunet synth`` lives in ``data/synthetic``)."""
    data = subparsers.add_parser("data", help="inspect a CAMUS-style dataset")
    data_sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    data.set_defaults(func=lambda _args: data.print_help() or 1)
    summary = data_sub.add_parser("summary", help="patients, images, quality/EF counts, sizes and spacings")
    summary.add_argument("root", help="dataset root (either CAMUS release, or a folder of patientXXXX)")
    summary.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_limit_arguments(summary)
    summary.set_defaults(func=_summary)

    folds = subparsers.add_parser(
        "folds", help="write the cross-validation fold lists (official CAMUS folds on the CAMUS training set)"
    )
    folds.add_argument("root", help="dataset root")
    folds.add_argument(
        "--out", required=True, help="folder for subGroup<k>_{training,validation,testing}.txt"
    )
    folds.add_argument("--n-folds", type=int, default=10, help="number of generated folds (default 10)")
    folds.add_argument("--seed", type=int, default=0, help="seed of the generated folds (default 0)")
    folds.add_argument(
        "--generated", action="store_true", help="stratified folds even on the CAMUS training set"
    )
    folds.set_defaults(func=_folds)

    preprocess = subparsers.add_parser("preprocess", help="build the memory-mapped training cache")
    preprocess.add_argument("root", help="dataset root")
    preprocess.add_argument("--cache", required=True, help="cache folder")
    preprocess.add_argument("--size", type=int, default=256, help="square side in pixels (default 256)")
    preprocess.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    preprocess.add_argument(
        "--frames", choices=("ed-es", "all"), default="ed-es",
        help="ed-es: the four annotated frames per patient (default, the papers' protocol); all: also every "
        "frame of the half sequences with a ground truth (the cache of lunet train --frames all)",
    )  # fmt: skip
    preprocess.add_argument(
        "--no-crop-source", action="store_true",
        help="leave out the 2S crop-source arrays (5x the bytes of the SxS ones) that only the models that "
        "crop read (lunet, unet1-oracle): a cache for unet1, shg, runet, agunet, ...",
    )  # fmt: skip
    add_limit_arguments(preprocess)
    preprocess.set_defaults(func=_preprocess)
