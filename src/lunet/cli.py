"""The ``lunet`` command line.

This module only parses arguments. Each area of the package contributes its sub-commands through a
small ``commands`` module with a ``register(subparsers)`` function; those modules import nothing heavy
at import time (the work is imported lazily inside the command functions), so ``lunet --help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from lunet import __version__

#: Modules that register sub-commands, in help order.
COMMAND_MODULES: tuple[str, ...] = (
    "lunet.data.commands",
    "lunet.data.synthetic.commands",
    "lunet.models.commands",
    "lunet.training.commands",
    "lunet.commands",  # demo, evaluate: the jobs above the areas
    "lunet.evaluation.commands",
    "lunet.inference.commands",
    "lunet.report.commands",
)


class CommandError(Exception):
    """An error meant for the user: printed as one line, exit code 2, no traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lunet",
        description="LU-Net / RU-Net left-ventricle segmentation in 2D echocardiography (CAMUS protocol).",
    )
    parser.add_argument("--version", action="version", version=f"lunet {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        result = args.func(args)
    except (CommandError, FileNotFoundError, ValueError) as err:
        print(f"lunet {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"lunet {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
