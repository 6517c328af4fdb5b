"""``lunet models``: the registered networks with their parameter counts (and CPU forward times)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the networks, their parameter counts vs the papers and CPU forward times",
        description="List the registered networks: parameters vs the papers' counts, and the median CPU "
        "forward time of one image (batch 1) under torch.inference_mode.",
    )
    parser.add_argument(
        "--json", action="store_true", help='print [{"name", "params", "paper_params"}] as JSON'
    )
    parser.add_argument("--time", action="store_true", help="with --json: add forward_ms")
    parser.add_argument("--no-time", action="store_true", help="table without forward times")
    parser.add_argument("--size", type=int, default=256, help="image side for the timing (default 256)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per model (median; default 3)")
    parser.set_defaults(func=run_models)


def run_models(args: argparse.Namespace) -> int:
    import json

    from lunet.models.summary import format_table, model_table

    if args.size <= 0 or args.size % 32 or args.size < 64:
        raise ValueError(f"--size must be a multiple of 32 and at least 64, got {args.size}")
    if args.repeats < 1:
        raise ValueError(f"--repeats must be at least 1, got {args.repeats}")
    time_forward = args.time if args.json else not args.no_time
    rows = model_table(time_forward=time_forward, size=args.size, repeats=args.repeats)
    if args.json:
        keys = ("name", "params", "paper_params", "forward_ms")
        print(json.dumps([{k: r[k] for k in keys if k in r} for r in rows], indent=2))
    else:
        print(format_table(rows, args.size))
    return 0
