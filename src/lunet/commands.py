"""CLI of the jobs that span areas, registered above every area (as :mod:`lunet.demo` sits above them).

- ``lunet demo``: the whole pipeline on phantom data (:mod:`lunet.demo`; flags from its ``DemoSettings``).
- ``lunet train`` / ``lunet cv``: their calibration step after training (:func:`calibrator`), an
  inference job.
- ``lunet evaluate``: a run's evaluation (:mod:`lunet.evaluation`), and with ``--sequences`` first the
  segmentation of its test patients' half sequences (:mod:`lunet.inference`). It lives here, not in
  ``lunet.evaluation.commands``, because evaluation never imports inference (``tests/test_import_graph.py``).

Argument parsing only: the work is imported inside the ``run_*`` functions.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from pathlib import Path
from typing import Any


def run_evaluate(args: argparse.Namespace) -> int:
    from lunet.evaluation.commands import print_summary, simpson_options, threshold_options
    from lunet.evaluation.evaluate import evaluate_run
    from lunet.evaluation.sequence import evaluate_run_sequences, summary_line

    out = args.out or str(Path(args.run) / "evaluation")
    print_summary(evaluate_run(args.run, out, **threshold_options(args), **simpson_options(args)), out)
    if args.sequences:
        from lunet.inference.sequence_outputs import predict_run_test_sequences

        predict_run_test_sequences(args.run)
    if sequences := evaluate_run_sequences(args.run, out, args.ef_convention):
        print(summary_line(sequences["summary"]))
    return 0


def calibrator(args: argparse.Namespace) -> Any:
    """``lunet train`` / ``lunet cv``'s step after training: ``RUN`` → the EF/EDV/ESV interval calibration
    of ``lunet calibrate`` at ``--calibration-level``
    (:func:`lunet.inference.calibrate.calibrate_after_training`). Given to the training commands from here
    because training never imports inference."""
    from lunet.evaluation.intervals import min_calibration_size
    from lunet.inference.calibrate import calibrate_after_training

    try:  # a level outside (0, 1) fails before training
        min_calibration_size(args.calibration_level)
    except ValueError as err:
        raise ValueError(f"--calibration-level: {err}") from None
    return lambda run: calibrate_after_training(run, args.calibration_level)


def cv_calibrator(args: argparse.Namespace) -> Any:
    """``lunet cv``'s step after gathering: ``RUN`` → the CV+ calibration of the folds' ensemble at
    ``--calibration-level`` (:func:`lunet.inference.calibrate_cv.calibrate_cv_after_gathering`)."""
    from lunet.inference.calibrate_cv import calibrate_cv_after_gathering

    return lambda run: calibrate_cv_after_gathering(run, args.calibration_level)


def run_demo(args: argparse.Namespace) -> int:
    from lunet.demo import DemoSettings
    from lunet.demo import run_demo as demo

    settings = DemoSettings.full() if args.full else DemoSettings()
    settings = settings.replace(**{f.name: getattr(args, f.name) for f in dataclasses.fields(DemoSettings)})
    print(demo(args.out, settings))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``demo`` and ``evaluate``; give ``train`` and ``cv`` (registered before) their calibration step."""
    from lunet.demo import DemoSettings
    from lunet.evaluation.commands import add_ef_convention, add_threshold_options
    from lunet.training.commands import add_field_flag

    demo = subparsers.add_parser(
        "demo", help="synthetic end-to-end demo: U-Net1 vs LU-Net on phantom data (CPU, ≤ 10 min)"
    )
    demo.add_argument(
        "--out", type=Path, default=Path("lunet-demo"), help="output folder (default ./lunet-demo)"
    )
    demo.add_argument(
        "--full", action="store_true", help="paper protocol (256 px, 500 patients, 10 folds; GPU)"
    )
    hints = typing.get_type_hints(DemoSettings)
    for f in dataclasses.fields(DemoSettings):
        extra = {"choices": f.metadata["choices"]} if "choices" in f.metadata else {}
        add_field_flag(demo, f.name, hints[f.name], f.metadata["help"], **extra)
    demo.set_defaults(func=run_demo)

    p = subparsers.add_parser("evaluate", help="evaluate a run folder (Tables I–IV of LU-Net)")
    p.add_argument("run", help="run folder (config.json, predictions/)")
    p.add_argument("--out", help="output folder (default RUN/evaluation)")
    p.add_argument(
        "--sequences", action="store_true",
        help="also segment the test patients' half sequences and score them (needs *_half_sequence_gt)",
    )  # fmt: skip
    add_threshold_options(p)
    add_ef_convention(p)
    p.set_defaults(func=run_evaluate)
    for name in ("train", "cv"):
        if name in subparsers.choices:
            subparsers.choices[name].set_defaults(after_training=calibrator)
    if "cv" in subparsers.choices:
        subparsers.choices["cv"].set_defaults(after_gathering=cv_calibrator)
