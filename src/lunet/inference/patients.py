"""Per-patient clinical indices from predicted masks: EDV, ESV (ml) and EF (%) by Simpson's biplane method
(:func:`lunet.evaluation.clinical.patient_volumes`, in the Simpson convention ``ef_convention``).

A patient is complete when its 2CH and 4CH views are predicted at ED and ES (CAMUS file names
``patientXXXX_{2CH,4CH}_{ED,ES}``). LV masks are held only until the patient is complete, so memory stays
bounded when the inputs are ordered by patient (folders are read in sorted order).

With a bundle's interval calibration (``calibration.json``, :mod:`lunet.evaluation.interval_calibration`) the
JSON also gives ``ef_interval_percent``, ``edv_interval_ml`` and ``esv_interval_ml`` (``[lo, hi]``) at
``interval_level``; a ``normalised`` calibration takes the spread of the test-time augmentation passes
(:mod:`lunet.inference.tta`) given to :meth:`PatientAccumulator.add`. Without a calibration the intervals are
null and ``interval_note`` says why.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

_NEEDED = {("2CH", "ED"), ("4CH", "ED"), ("2CH", "ES"), ("4CH", "ES")}


def _spreads(passes: Sequence[dict[str, float]]) -> dict[str, float]:
    """SD (ddof 1) over the finite passes of each of EDV, ESV, EF (NaN with fewer than two)."""
    from lunet.evaluation.interval_calibration import VALUE_KEYS

    out = {}
    for key in VALUE_KEYS:
        finite = np.array([p[key] for p in passes], dtype=np.float64)
        finite = finite[np.isfinite(finite)]
        out[key] = float(np.std(finite, ddof=1)) if finite.size > 1 else float("nan")
    return out


class PatientAccumulator:
    """Collects LV masks per patient; emits the clinical JSON as soon as a patient is complete."""

    def __init__(
        self,
        out_dir: Path,
        ef_convention: str = "geometric",
        calibration: Any = None,
        interval_note: str = "",
        members: Sequence[str] = (),
    ) -> None:
        from lunet.evaluation.simpson import SimpsonOptions

        self.out_dir = out_dir
        self.simpson = SimpsonOptions.for_convention(ef_convention)
        self.calibration = calibration  # lunet.evaluation.interval_calibration.IntervalCalibration | None
        self.interval_note = interval_note
        self.members = list(members)  # an ensemble's fold models (lunet.inference.ensemble), else empty
        self._pending: dict[str, dict[tuple[str, str], Any]] = {}
        self._names: dict[str, dict[str, str]] = {}
        self.written: list[Path] = []
        self._atria: dict[str, dict[tuple[str, str], Any]] = {}

    def add(self, patient_id: str, view: str, instant: str, lv_mask: np.ndarray, spacing: tuple[float, float],
            name: str, qc_pass: bool, pass_masks: Sequence[np.ndarray] = (),
            member_masks: Sequence[Sequence[np.ndarray]] = ()) -> Path | None:  # fmt: skip
        """Record one view/instant; returns the per-patient JSON path once the patient is complete.

        ``pass_masks``: the LV masks of the extra test-time augmentation passes (after the unaugmented one),
        mapped back to this image's grid; used by a ``normalised`` interval calibration.
        ``member_masks``: an ensemble's (``lv_mask`` then is the voted one), per fold model its LV masks, the
        unaugmented pass first; the CV+ interval (:mod:`lunet.evaluation.cv_plus`) is built from them.
        """
        from lunet.evaluation.clinical import patient_volumes
        from lunet.inference.writers import output_path, write_json

        masks = self._pending.setdefault(patient_id, {})
        masks[(view, instant)] = (
            np.asarray(lv_mask, dtype=bool), tuple(spacing), qc_pass, list(pass_masks),
            [list(m) for m in member_masks],
        )  # fmt: skip
        self._names.setdefault(patient_id, {})[f"{view}_{instant}"] = name
        if set(masks) != _NEEDED:
            return None
        done = self._pending.pop(patient_id)
        values = patient_volumes({k: (v[0], v[1]) for k, v in done.items()}, self.simpson)
        data = {
            "patient_id": patient_id,
            **values,
            "method": "Simpson biplane, method of discs (lunet.evaluation.clinical)",
            "ef_convention": self.simpson.convention,
            "images": self._names.pop(patient_id),
            "all_images_qc_pass": all(v[2] for v in done.values()),
            **self._intervals(done, values),
        }
        atria = self._atria.pop(patient_id, None)
        if atria is not None:
            from lunet.evaluation.atrium import METHOD, patient_la_volumes
            from lunet.inference.qc import la_volume_flags

            la_ml = patient_la_volumes(atria)["la_esv_ml"]
            data.update(la_volume_ml=la_ml, la_method=METHOD, la_qc_flags=la_volume_flags(la_ml))
        path = write_json(output_path(self.out_dir, "patients", patient_id, ".json"), data)
        self.written.append(path)
        return path

    def _intervals(self, done: dict[tuple[str, str], Any], values: dict[str, float]) -> dict[str, Any]:
        """``ef_interval_percent`` … ``interval_level`` (null without a calibration) and the interval QC."""
        from lunet.evaluation.clinical import patient_volumes
        from lunet.evaluation.interval_calibration import INTERVAL_COLUMNS
        from lunet.inference.ensemble import VOTE
        from lunet.inference.qc import interval_flags

        cal = self.calibration
        n_passes = 1 + min(len(v[3]) for v in done.values())
        bounds: dict[str, float] = {}
        out: dict[str, Any] = {}
        if self.members:
            n_passes = min((len(m) for v in done.values() for m in v[4]), default=0)
            members = self._member_values(done, n_passes)
            out["ensemble"] = {"members": self.members, "masks": VOTE, "n_models": len(self.members)}
            out["member_ef_percent"] = [m[0]["ef_percent"] for m in members]
            if cal is not None and len(members) == len(self.members):
                spreads = [_spreads(m) for m in members] if cal.needs_spread else None
                bounds = cal.intervals([m[0] for m in members], spreads, point=values)
                failed = [n for n, m in zip(self.members, members) if not np.isfinite(m[0]["ef_percent"])]
                if failed:  # CV+ combines every fold model's estimate: one missing, no interval
                    out["interval_note"] = (
                        f"no CV+ interval: {', '.join(failed)} gave no EF for this patient (a degenerate LV "
                        "mask); the interval needs every fold model's estimate"
                    )
        elif cal is not None:
            spreads = None
            if cal.needs_spread and n_passes > 1:
                passes = [values] + [
                    patient_volumes({k: (v[3][j], v[1]) for k, v in done.items()}, self.simpson)
                    for j in range(n_passes - 1)
                ]
                spreads = _spreads(passes)
            bounds = cal.intervals(values, spreads)
        for lo, hi in INTERVAL_COLUMNS.values():
            stem, unit = lo.split("_lo_")
            out[f"{stem}_interval_{unit}"] = [bounds.get(lo), bounds.get(hi)] if bounds else [None, None]
        out["interval_level"] = None if cal is None else cal.level
        out["interval_score"] = None if cal is None else cal.score
        out["interval_method"] = None if cal is None else cal.method  # split (validation patients) or cv+
        out["interval_passes"] = n_passes if cal is not None and cal.needs_spread else 1
        if self.interval_note and "interval_note" not in out:
            out["interval_note"] = self.interval_note
        out["interval_flags"] = interval_flags(out["ef_interval_percent"])
        return out

    def _member_values(self, done: dict[tuple[str, str], Any], n_passes: int) -> list[list[dict[str, float]]]:
        """Per fold model of an ensemble, EDV/ESV/EF of each of its passes (unaugmented first)."""
        from lunet.evaluation.clinical import patient_volumes

        n_members = min(len(v[4]) for v in done.values())
        return [
            [
                patient_volumes({k: (v[4][m][j], v[1]) for k, v in done.items()}, self.simpson)
                for j in range(n_passes)
            ]
            for m in range(n_members)
        ]

    def add_atrium(
        self, patient_id: str, view: str, instant: str, label_map: np.ndarray, spacing: tuple[float, float]
    ) -> None:
        """Record one frame's labels of a model trained on the left atrium (call before :meth:`add`).

        The ES frames of both views give the patient JSON ``la_volume_ml`` (biplane area–length,
        :func:`lunet.evaluation.atrium.la_volume_ml`), ``la_method`` and ``la_qc_flags``
        (:func:`lunet.inference.qc.la_volume_flags`); a patient without this call has no LA keys.
        """
        atria = self._atria.setdefault(patient_id, {})
        if instant == "ES":  # the LA is largest, and measured, at ventricular end-systole
            atria[(view, instant)] = (np.asarray(label_map), tuple(spacing))

    def incomplete(self) -> dict[str, list[str]]:
        """Patients seen without all four images: ``{patient_id: missing "VIEW_INSTANT" names}``."""
        return {pid: sorted(f"{v}_{i}" for v, i in _NEEDED - set(m)) for pid, m in self._pending.items()}
