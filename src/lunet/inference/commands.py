"""CLI of the inference area: ``lunet predict``, ``lunet calibrate`` and ``lunet export`` (heavy imports
inside the functions)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lunet.limits import SizeLimits

#: Exit codes of ``lunet predict``, every mode (README, "Bad input"): all predicted; every input bad (or none
#: found); some inputs bad — the rest predicted, the bad ones listed in ``summary.csv`` or
#: ``sequences/summary.csv``.
EXIT_OK, EXIT_ALL_BAD, EXIT_SOME_BAD = 0, 2, 3


def exit_status(done: int, failed: int) -> int:
    """The exit code of a prediction run that predicted ``done`` inputs and failed on ``failed``."""
    if done == 0:
        return EXIT_ALL_BAD
    return EXIT_SOME_BAD if failed else EXIT_OK


def deprecated(old: str, new: str, command: str) -> None:
    """Print the one-line notice of a deprecated spelling (it still works) to stderr."""
    print(f"lunet {command}: {old} is deprecated, use {new} (it works the same)", file=sys.stderr)


class DeprecatedOption(argparse.Action):
    """An old option spelling: stores like the new one (``dest``) after a one-line notice on stderr."""

    def __init__(self, option_strings: list[str], dest: str, new: str = "", **kwargs: Any) -> None:
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        deprecated(str(option_string), self.new, parser.prog.removeprefix("lunet "))
        setattr(namespace, self.dest, values)


def _frames(text: str) -> tuple[int, ...]:
    """``"0,5,10-12"`` → ``(0, 5, 10, 11, 12)`` (:func:`lunet.ranges.parse_int_ranges`)."""
    from lunet.ranges import parse_int_ranges

    try:
        frames = parse_int_ranges(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected frame indices as 0,5,10-12, got {text!r}") from None
    if not frames or min(frames) < 0:
        raise argparse.ArgumentTypeError(f"expected non-negative frame indices, got {text!r}")
    return tuple(frames)


def run_predict(args: argparse.Namespace) -> int:
    from lunet.data.commands import limits_of

    limits = limits_of(args)
    if args.sequence:
        return run_predict_sequences(args, limits)
    from lunet.inference.predict import PredictOptions, predict_paths
    from lunet.inference.sequence_commands import sequence_options

    options = PredictOptions(
        spacing=tuple(args.spacing) if args.spacing else None,
        backend=args.backend,
        batch_size=args.batch_size,
        overlay=not args.no_overlay,
        frames=args.frame_indices,
        device=args.device,
        threads=args.threads,
        progress=not args.no_progress,
        limits=limits,
        region=args.region,
        ef_convention=args.ef_convention,
        cines="frames" if args.frame_indices is not None else "sequence",
        sequence=sequence_options(args),
        intervals=not getattr(args, "no_intervals", False),
    )
    result = predict_paths(args.model, args.inputs, args.out, options)
    summary = Path(args.out) / "summary.csv"
    if result.n_done or result.n_failed or not result.sequences:
        print(f"{result.n_done} frames predicted ({result.backend}), {result.n_failed} failed; see {summary}")
    if result.sequences:
        print(
            f"{result.n_sequences_done} cines predicted as sequences (ED/ES, LV area curve), "
            f"{result.n_sequences_failed} failed; see {Path(args.out) / 'sequences' / 'summary.csv'} "
            "(--frame-indices 0,5,10-12 predicts chosen frames as images)"
        )
    return exit_status(result.n_done + result.n_sequences_done, result.n_failed + result.n_sequences_failed)


def run_predict_sequences(args: argparse.Namespace, limits: SizeLimits | None = None) -> int:
    """``lunet predict --sequence``: cines only (every cine under a folder), exit codes as plain predict."""
    from lunet.run_files import cv_members

    if cv_members(args.model):
        raise ValueError(
            f"{args.model} is a cross-validation's ensemble, which predicts images only; predict cines "
            "with one fold (--model RUN/fold_K)"
        )
    from lunet.inference.sequence_commands import sequence_options
    from lunet.inference.sequence_outputs import predict_sequences

    rows = predict_sequences(
        args.model, args.inputs, args.out, sequence_options(args),
        spacing=tuple(args.spacing) if args.spacing else None,
        backend=args.backend, device=args.device, threads=args.threads, limits=limits,
    )  # fmt: skip
    done = sum(row["status"] == "ok" for row in rows)
    summary = Path(args.out) / "sequences" / "summary.csv"
    print(f"{done} sequences predicted, {len(rows) - done} failed; see {summary}")
    return exit_status(done, len(rows) - done)


def run_calibrate(args: argparse.Namespace) -> int:
    """``lunet calibrate RUN``: EF/EDV/ESV intervals calibrated on the run's validation patients."""
    from lunet.inference.calibrate import calibrate_run
    from lunet.inference.tta import DEFAULT_PASSES

    passes = DEFAULT_PASSES[: args.passes]
    from lunet.run_files import cv_members

    if members := cv_members(args.run):
        from lunet.inference.calibrate_cv import calibrate_cv_run

        if args.ensemble:
            raise ValueError(f"{args.run}: a cross-validation is its own ensemble ({len(members)} folds); "
                             "give no --ensemble")  # fmt: skip
        cv = calibrate_cv_run(args.run, args.level, args.score, passes, args.backend, args.threads)
        print(f"{Path(args.run) / 'calibration.json'}: CV+ {100 * cv.level:g} % intervals for the ensemble "
              f"of {cv.models} folds, {cv.score} score, {cv.n_patients} out-of-fold patients")  # fmt: skip
        return 0
    cal = calibrate_run(args.run, args.level, args.score, passes, args.ensemble, args.backend, args.threads,
                        test=not args.no_test)  # fmt: skip
    ef = cal.indices["ef_percent"]
    unit = "× the passes' EF SD" if cal.needs_spread else "EF points"
    print(f"{Path(args.run) / 'calibration.json'}: {100 * cal.level:g} % intervals, {cal.score} score, "
          f"quantile {ef.quantile:.2f} {unit}, from {cal.n_patients} validation patients")  # fmt: skip
    return 0


def run_export(args: argparse.Namespace) -> int:
    from lunet.inference.export import DEFAULT_OPSET, export_onnx

    if args.format != "onnx":
        raise ValueError(f"unsupported export format {args.format!r} (only onnx)")
    if args.run is not None:  # the old positional spelling
        if args.model is not None:
            raise ValueError(f"give the model once: --model {args.model} or (deprecated) {args.run}")
        deprecated("the positional RUN", "--model RUN", "export")
    model = args.model if args.model is not None else args.run
    if model is None:
        raise ValueError("--model is required (run folder, model bundle or checkpoints/*.ckpt)")
    from lunet.evaluation.interval_calibration import CALIBRATION_FILE, read_calibration
    from lunet.run_files import cv_members, run_folder

    if members := cv_members(model):  # a cross-validation: every fold, for predict --model CV_RUN
        if args.out is not None:
            raise ValueError(
                f"{model}: a cross-validation exports each fold next to its weights; give no --out"
            )
        for member in members:
            path = export_onnx(member, None, opset=args.opset or DEFAULT_OPSET, fixed_batch=args.fixed_batch)
            print(path)
            if args.int8:
                from lunet.inference.quantize import export_int8

                print(export_int8(member, path))
        calibration = read_calibration(model)
        print(f"{len(members)} folds exported; " + (
            f"no {CALIBRATION_FILE} in {model}: predict gives null EF intervals (`lunet calibrate {model}`)"
            if calibration is None else f"{Path(model) / CALIBRATION_FILE}: CV+ {100 * calibration.level:g} %"
        ))  # fmt: skip
        return 0
    path = export_onnx(model, args.out, opset=args.opset or DEFAULT_OPSET, fixed_batch=args.fixed_batch)
    print(path)
    folder = run_folder(model)
    calibration = read_calibration(folder)  # the bundle folder carries it: predict reads it from there
    if calibration is None:
        hint = f"`lunet calibrate {model}`"
        print(f"no {CALIBRATION_FILE} in {folder}: predict gives null EF intervals ({hint})")
    else:
        print(f"{folder / CALIBRATION_FILE}: {100 * calibration.level:g} % EF/EDV/ESV intervals "
              f"({calibration.score} score, {len(calibration.passes)} passes)")  # fmt: skip
    if args.int8:
        from lunet.inference.quantize import export_int8

        print(export_int8(model, path))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``predict``, ``calibrate`` and ``export`` to the ``lunet`` command line."""
    from lunet.data.commands import add_limit_arguments

    p = subparsers.add_parser(
        "predict",
        help="segment images (NIfTI, MHD, PNG/JPEG, DICOM, CAMUS folders) with a trained model",
        description="Masks on the original grid in the input's format, overlays, per-image JSON with areas, "
        "box and QC flags, per-patient EDV/ESV/EF, and summary.csv. Inputs: files, folders or @list.txt.",
    )
    p.add_argument("--model", required=True, help="run folder, model bundle or checkpoints/*.ckpt")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders (recursed) or @list.txt")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--spacing", nargs=2, type=float, metavar=("ROW_MM", "COL_MM"),
                   help="pixel spacing for inputs without one (PNG/JPEG, uncalibrated DICOM)")  # fmt: skip
    p.add_argument("--backend", choices=("auto", "onnx", "torch", "int8"), default="auto",
                   help="auto: ONNX Runtime when a current model.onnx exists, else torch; "
                   "int8: model.int8.onnx of `lunet export --int8`")  # fmt: skip
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--frame-indices", type=_frames, default=None, metavar="INDICES",
                   help="predict these frames (0-based) of multi-frame files as separate images, e.g. "
                   "0,5,10-12 (default: a cine is predicted as a whole sequence, as with --sequence)",
                   )  # fmt: skip
    # the old spelling (--frames is the frame *mode* of train/cv/demo/preprocess)
    p.add_argument("--frames", dest="frame_indices", type=_frames, action=DeprecatedOption,
                   new="--frame-indices", help=argparse.SUPPRESS)  # fmt: skip
    p.add_argument("--no-overlay", action="store_true", help="do not write PNG overlays")
    p.add_argument("--device", default="cpu", help="torch device for --backend torch (cpu, cuda)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: physical cores for ORT)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--region", type=int, default=None, metavar="K",
                   help="DICOM with several calibrated B-mode regions (dual display): segment region K only "
                   "(index in SequenceOfUltrasoundRegions; default: each region)")  # fmt: skip
    add_limit_arguments(p)
    p.epilog = (
        f"exit status (every mode, --sequence too): {EXIT_OK} all inputs predicted; {EXIT_SOME_BAD} some "
        f"inputs unreadable or refused (listed in summary.csv), the rest predicted; {EXIT_ALL_BAD} no input "
        "could be predicted"
    )
    p.add_argument("--ef-convention", choices=("geometric", "camus", "camus-arc"), default="geometric",
                   help="Simpson convention of the patients' EDV/ESV/EF: geometric (per-instant long "
                   "axis, default), camus (the CAMUS authors' published procedure: one disc height a "
                   "patient, first disc on the mitral plane) or camus-arc (lunet's earlier variant of it: "
                   "first disc above the mitral arc at full width)",
                   )  # fmt: skip
    p.add_argument("--no-intervals", action="store_true",
                   help="no EF/EDV/ESV intervals even when the bundle has a calibration.json (no extra "
                   "test-time augmentation passes)")  # fmt: skip
    from lunet.inference.sequence_commands import add_sequence_arguments

    add_sequence_arguments(p)
    p.set_defaults(func=run_predict)

    c = subparsers.add_parser(
        "calibrate", help="calibrate EF/EDV/ESV intervals on a run's validation patients (calibration.json)"
    )
    c.add_argument(
        "run",
        help="trained run folder (its fold's validation patients calibrate), or a `lunet cv` "
        "folder (CV+ on its out-of-fold patients, for the ensemble of its folds)",
    )
    c.add_argument("--level", type=float, default=0.90, help="nominal coverage (default 0.90)")
    c.add_argument("--score", choices=("auto", "absolute", "normalised"), default="auto",
                   help="conformity score: |error| (absolute), |error| / SD of the passes (normalised), or "
                   "auto: the narrower by leave-one-out on the validation patients (default)")  # fmt: skip
    c.add_argument("--passes", type=int, choices=range(1, 8), default=7, metavar="1..7",
                   help="test-time augmentation passes (default 7: identity, zoom 0.95/1.05, shift ±3 %%, "
                   "gamma 0.85/1.15); 1 allows the absolute score only")  # fmt: skip
    c.add_argument(
        "--ensemble",
        nargs="*",
        default=(),
        metavar="BUNDLE",
        help="other bundles (e.g. the other folds of lunet cv) whose passes join the spread",
    )
    c.add_argument("--backend", choices=("auto", "onnx", "torch", "int8"), default="torch")
    c.add_argument("--threads", type=int, default=None, help="CPU threads")
    c.add_argument(
        "--no-test",
        action="store_true",
        help="do not predict the test patients' passes (calibration_passes.csv, for evaluate)",
    )
    c.set_defaults(func=run_calibrate)

    e = subparsers.add_parser("export", help="export a trained model (whole pipeline) to ONNX")
    e.add_argument(
        "--model",
        default=None,
        help="run folder, model bundle or checkpoints/*.ckpt (required); "
        "a `lunet cv` folder exports every fold",
    )
    e.add_argument("run", nargs="?", default=None, help=argparse.SUPPRESS)  # deprecated: use --model
    e.add_argument("--format", default="onnx", choices=("onnx",))
    e.add_argument("--out", default=None, help="destination (default: model.onnx next to the bundle)")
    e.add_argument("--opset", type=int, default=None, help="ONNX opset (default 17)")
    e.add_argument(
        "--fixed-batch", type=int, default=None, help="export a fixed batch size (no dynamic axis)"
    )
    e.add_argument(
        "--int8",
        action="store_true",
        help="also write model.int8.onnx (INT8 QDQ, calibrated on phantom frames)",
    )
    e.set_defaults(func=run_export)
