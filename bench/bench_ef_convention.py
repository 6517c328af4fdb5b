"""How far apart the Simpson conventions are on the phantom, against its analytic volumes (SYNTHETIC).

Writes ``--patients`` phantom patients (native resolution, 0.22–0.36 mm, some anisotropic pixels), computes
EDV, ESV and EF on their reference LV masks with ``geometric`` (the baseline, per-instant long axis),
``camus`` (the CAMUS authors' published code, one disc height per patient, first disc on the mitral plane) and
``camus-arc`` (lunet's earlier variant, first disc above the mitral arc), and compares each with the analytic
truth of ``phantom_truth.json``; then ``camus-arc`` against ``camus`` per patient (ml).
Run: ``python bench/bench_ef_convention.py [--patients 40] [--seed 0]``
(``--circular`` for circular LV sections, where Simpson's rule is exact up to its quadrature); prints figures.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import make_phantom, print_header, print_table

INDICES = (("edv_ml", "EDV"), ("esv_ml", "ESV"))


def _summary(volumes: dict[str, dict[str, float]], truth: dict[str, dict[str, float]]) -> dict[str, float]:
    row: dict[str, float] = {}
    pids = sorted(truth)
    for key, name in INDICES:
        rel = np.array([100 * (volumes[p][key] / truth[p][key] - 1) for p in pids])
        row[f"{name} err %"] = float(np.nanmean(rel))
        row[f"{name} SD %"] = float(np.nanstd(rel, ddof=1))
    ef = np.array([volumes[p]["ef_percent"] - truth[p]["ef_percent"] for p in pids])
    row["EF bias pts"] = float(np.nanmean(ef))
    row["EF SD pts"] = float(np.nanstd(ef, ddof=1))
    row["EF MAE pts"] = float(np.nanmean(np.abs(ef)))
    row["n"] = int(np.isfinite(ef).sum())
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=40, help="phantom patients (40)")
    parser.add_argument("--seed", type=int, default=0, help="phantom seed (0)")
    parser.add_argument("--circular", action="store_true", help="circular LV sections (b1 = b2)")
    parser.add_argument("--workers", type=int, default=1, help="phantom writer processes (1)")
    args = parser.parse_args()

    from lunet.data.synthetic.generate import generate_dataset
    from lunet.evaluation.evaluate import reference_volumes
    from lunet.evaluation.simpson import EF_CONVENTIONS, SimpsonOptions

    print_header("Simpson conventions on the phantom vs its analytic volumes — SYNTHETIC data, not CAMUS")
    with tempfile.TemporaryDirectory() as tmp:
        if args.circular:
            root = generate_dataset(
                Path(tmp) / "phantom", args.patients, seed=args.seed, workers=args.workers, circular=True,
                progress=False,
            )  # fmt: skip
        else:
            root = make_phantom(Path(tmp) / "phantom", args.patients, "native", args.seed, args.workers)
        truth = {
            path.parent.name: json.loads(path.read_text())
            for path in sorted(root.rglob("phantom_truth.json"))
        }
        rows, all_volumes = [], {}
        for convention in EF_CONVENTIONS:
            start = time.process_time()
            volumes = reference_volumes(root, SimpsonOptions.for_convention(convention))["patients"]
            seconds = time.process_time() - start
            all_volumes[convention] = volumes
            row = {"convention": convention, **_summary(volumes, truth)}
            row["CPU ms/patient"] = 1000 * seconds / len(truth)
            rows.append(row)
    sections = "circular" if args.circular else "elliptic"
    print(f"{len(truth)} phantom patients, seed {args.seed}, {sections} LV sections, native resolution")
    print("errors = Simpson on the reference masks − analytic truth (EDV/ESV relative, EF in points)")
    columns = ["convention", "EDV err %", "EDV SD %", "ESV err %", "ESV SD %", "EF bias pts", "EF SD pts"]
    print_table(rows, [*columns, "EF MAE pts", "n", "CPU ms/patient"], digits=2)
    by_name = {row["convention"]: row for row in rows}
    geo, camus = by_name["geometric"], by_name["camus"]
    print(
        f"camus − geometric: ESV {camus['ESV err %'] - geo['ESV err %']:+.1f} %, "
        f"EF {camus['EF bias pts'] - geo['EF bias pts']:+.1f} points"
    )
    arc, pub = all_volumes["camus-arc"], all_volumes["camus"]
    for key, name in (*INDICES, ("ef_percent", "EF")):
        diff = np.array([arc[p][key] - pub[p][key] for p in sorted(truth)])
        unit = "points" if key == "ef_percent" else "ml"
        print(
            f"camus-arc − camus, {name}: mean {np.nanmean(diff):+.2f} {unit}, "
            f"range [{np.nanmin(diff):+.2f}, {np.nanmax(diff):+.2f}]"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
