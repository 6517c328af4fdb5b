"""CLI of the evaluation area: ``lunet evaluate-folder``, ``lunet volumes``, and the options they share with
``lunet evaluate`` (registered in :mod:`lunet.commands`, above the areas: ``--sequences`` predicts first)."""

from __future__ import annotations

import argparse


def add_threshold_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("outlier thresholds (defaults: RU-Net Table I)")
    for name, help_text in (
        ("ed-mad-mm", "ED d_m bound, mm (3.5)"),
        ("ed-hd-mm", "ED d_H bound, mm (8.2)"),
        ("es-mad-mm", "ES d_m bound, mm (4.0)"),
        ("es-hd-mm", "ES d_H bound, mm (8.8)"),
        ("lv-simplicity", "lowest LV simplicity (0.741)"),
        ("lv-convexity", "lowest LV convexity (0.960)"),
        ("myo-simplicity", "lowest myocardium simplicity (0.529)"),
        ("myo-convexity", "lowest myocardium convexity (0.694)"),
    ):
        group.add_argument(f"--{name}", type=float, default=None, help=help_text)
    group.add_argument(
        "--myo-shape-structure",
        choices=("epi", "myo"),
        default=None,
        help="what the 'Myo' Sp/Cx bounds apply to: epi = epicardial contour (default), myo = myocardium",
    )
    group.add_argument(
        "--anatomical-bounds",
        choices=("auto", "paper", "reference", "resampled"),
        default="auto",
        help="paper = RU-Net Table I; reference = the lowest Sp/Cx of the evaluated reference masks (the "
        "papers' rule applied to this data); resampled = the same on the references passed down to the "
        "network size and back, as the predictions were; auto (default) = resampled on synthetic data "
        "(reference without a network size), else paper. Explicit --lv-/--myo- values imply paper",
    )
    group.add_argument(
        "--network-size",
        type=int,
        default=None,
        help="network input size S of the predictions, for --anatomical-bounds resampled/auto "
        "(lunet evaluate: the run's config)",
    )


_ANATOMICAL = ("lv_simplicity", "lv_convexity", "myo_simplicity", "myo_convexity")


def threshold_options(args: argparse.Namespace) -> dict:
    """``thresholds`` and ``anatomical_bounds`` keyword arguments of the evaluation functions."""
    from lunet.evaluation.outliers import OutlierThresholds

    fields = ("ed_mad_mm", "ed_hd_mm", "es_mad_mm", "es_hd_mm", *_ANATOMICAL, "myo_shape_structure")
    explicit = [f"--{f.replace('_', '-')}" for f in _ANATOMICAL if getattr(args, f) is not None]
    values = {f: getattr(args, f) for f in fields if getattr(args, f) is not None}
    source = args.anatomical_bounds
    if explicit:
        if source in ("reference", "resampled"):
            conflict = f"{', '.join(explicit)} and --anatomical-bounds {source} conflict"
            raise SystemExit(f"lunet: error: {conflict}")
        source = "paper"
        values["anatomical_source"] = "anatomical values given on the command line"
    out = {"thresholds": OutlierThresholds(**values), "anatomical_bounds": source}
    return out | ({"network_size": args.network_size} if args.network_size else {})


def add_ef_convention(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ef-convention",
        choices=("geometric", "camus", "camus-arc"),
        default=None,
        help="Simpson's biplane convention: camus = the CAMUS authors' published code (one disc height per "
        "patient; default on CAMUS data), camus-arc = lunet's earlier variant of it (first disc above the "
        "mitral arc), geometric = per-instant long axis (default on the phantom)",
    )


def simpson_options(args: argparse.Namespace) -> dict:
    """``simpson`` keyword of the evaluation functions (None: the default convention of the data)."""
    from lunet.evaluation.clinical import SimpsonOptions

    convention = args.ef_convention
    return {"simpson": SimpsonOptions.for_convention(convention) if convention else None}


def print_summary(tables: dict, out: str) -> None:
    print(f"wrote per_image.csv, per_patient.csv, clinical.csv, tables.md, tables.json to {out}")
    if tables.get("synthetic"):
        print(tables["data_note"])


def run_evaluate_folder(args: argparse.Namespace) -> int:
    from lunet.evaluation.evaluate import evaluate_folder
    from lunet.evaluation.sequence import evaluate_folder_sequences

    line, frames_too = evaluate_folder_sequences(args.pred, args.ref, args.out, args.ef_convention)
    if line:
        print(line)
        if not frames_too:
            return 0

    from lunet.boxes import DEFAULT_BOX_MARGIN

    intervals = None
    if args.intervals is not None:  # read first: a bad JSON stops the command before any scoring
        from lunet.evaluation.predicted_intervals import read_predicted_intervals

        intervals = read_predicted_intervals(args.intervals)
    margin = DEFAULT_BOX_MARGIN if args.margin is None else args.margin
    tables = evaluate_folder(
        args.pred, args.ref, args.out, model_name=args.name, boxes_csv=args.boxes, box_margin=margin,
        intervals_dir=intervals, **threshold_options(args), **simpson_options(args),
    )  # fmt: skip
    print_summary(tables, args.out)
    if intervals is not None:
        level = "no level" if intervals.level is None else f"{100 * intervals.level:g} %"
        print(f"EF/EDV/ESV intervals ({level}) of {intervals.patients_with_intervals} of {intervals.files} "
              f"patient JSONs in {intervals.folder}: clinical.csv ef_lo_percent … esv_hi_ml")  # fmt: skip
    return 0


def run_volumes(args: argparse.Namespace) -> int:
    import json
    import math

    from lunet.data.summary import SYNTHETIC_NOTE, is_synthetic
    from lunet.evaluation.clinical import default_simpson_options
    from lunet.evaluation.evaluate import json_safe, reference_volumes

    result = reference_volumes(args.data, **simpson_options(args))
    synthetic = is_synthetic(args.data)
    convention = default_simpson_options(synthetic, args.ef_convention).convention
    if args.json:  # NaN (missing or degenerate masks) is written as null
        note = {"synthetic": synthetic, "data_note": SYNTHETIC_NOTE if synthetic else ""}
        note["ef_convention"] = convention
        print(json.dumps(json_safe({**note, **result}), indent=2, allow_nan=False))
        return 0
    if synthetic:
        print(f"*** {SYNTHETIC_NOTE} ***")
    print(f"Simpson's biplane, {convention} convention")
    print(f"{'patient':<12} {'EDV ml':>8} {'ESV ml':>8} {'EF %':>6}")
    for pid, v in result["patients"].items():
        cells = [f"{v[k]:.1f}" if math.isfinite(v[k]) else "nan" for k in ("edv_ml", "esv_ml", "ef_percent")]
        print(f"{pid:<12} {cells[0]:>8} {cells[1]:>8} {cells[2]:>6}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``evaluate-folder`` and ``volumes``."""
    p = subparsers.add_parser(
        "evaluate-folder", help="evaluate a folder of predicted masks against CAMUS references"
    )
    p.add_argument(
        "--pred", required=True, help="folder of patientXXXX_{2CH,4CH}_{ED,ES}.nii.gz/.mhd label maps"
    )
    p.add_argument("--ref", required=True, help="CAMUS folder (either release) with the reference _gt files")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--name", default="prediction", help="row name in the tables")
    p.add_argument(
        "--boxes", help="boxes.csv of predicted boxes (patient,view,instant,x_min,y_min,x_max,y_max)"
    )
    p.add_argument("--margin", type=float, default=None,
                   help="margin of the reference boxes (default: DEFAULT_BOX_MARGIN, 0.05)")  # fmt: skip
    p.add_argument(
        "--intervals", metavar="DIR", default=None,
        help="a lunet predict output folder (or its patients/ folder): the EF/EDV/ESV intervals of its "
        "patients/<patient_id>.json fill clinical.csv's ef_lo_percent ... esv_hi_ml for those patients (one "
        "interval_level for all; the same --ef-convention as predict's)",
    )  # fmt: skip
    add_threshold_options(p)
    add_ef_convention(p)
    p.set_defaults(func=run_evaluate_folder)

    p = subparsers.add_parser("volumes", help="EDV/ESV/EF by Simpson's biplane rule from reference masks")
    p.add_argument("data", help="CAMUS folder (either release)")
    p.add_argument(
        "--json", action="store_true", help="print JSON {'patients': {id: {edv_ml, esv_ml, ef_percent}}}"
    )
    add_ef_convention(p)
    p.set_defaults(func=run_volumes)
