"""Per-patient clinical indices from predicted masks: EDV, ESV (ml) and EF (%) by Simpson's biplane method.

A patient is complete when its 2CH and 4CH views are predicted at ED and ES (CAMUS file names
``patientXXXX_{2CH,4CH}_{ED,ES}``). LV masks are held only until the patient is complete, so memory stays
bounded when the inputs are ordered by patient (folders are read in sorted order).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

_NEEDED = {("2CH", "ED"), ("4CH", "ED"), ("2CH", "ES"), ("4CH", "ES")}


def patient_volumes(masks: dict[tuple[str, str], tuple[np.ndarray, tuple[float, float]]]) -> dict[str, float]:
    """EDV, ESV (ml) and EF (%) from LV masks keyed by ``(view, instant)``.

    Args:
        masks: ``{("2CH", "ED"): (lv_mask (rows, cols) bool, spacing (row_mm, col_mm)), ...}``, all four keys.

    Returns:
        ``{"edv_ml", "esv_ml", "ef_percent"}`` (NaN where a mask is degenerate).
    """
    from lunet.evaluation.clinical import ejection_fraction_percent, simpson_biplane_ml

    volumes = {}
    for instant in ("ED", "ES"):
        m2, s2 = masks[("2CH", instant)]
        m4, s4 = masks[("4CH", instant)]
        volumes[instant] = simpson_biplane_ml(m2, s2, m4, s4)
    return {
        "edv_ml": volumes["ED"],
        "esv_ml": volumes["ES"],
        "ef_percent": ejection_fraction_percent(volumes["ED"], volumes["ES"]),
    }


class PatientAccumulator:
    """Collects LV masks per patient; emits the clinical JSON as soon as a patient is complete."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self._pending: dict[str, dict[tuple[str, str], Any]] = {}
        self._names: dict[str, dict[str, str]] = {}
        self.written: list[Path] = []

    def add(self, patient_id: str, view: str, instant: str, lv_mask: np.ndarray, spacing: tuple[float, float],
            name: str, qc_pass: bool) -> Path | None:  # fmt: skip
        """Record one view/instant; returns the per-patient JSON path once the patient is complete."""
        from lunet.inference.writers import output_path, write_json

        masks = self._pending.setdefault(patient_id, {})
        masks[(view, instant)] = (np.asarray(lv_mask, dtype=bool), tuple(spacing), qc_pass)
        self._names.setdefault(patient_id, {})[f"{view}_{instant}"] = name
        if set(masks) != _NEEDED:
            return None
        done = self._pending.pop(patient_id)
        values = patient_volumes({k: (v[0], v[1]) for k, v in done.items()})
        data = {
            "patient_id": patient_id,
            **values,
            "method": "Simpson biplane, method of discs (lunet.evaluation.clinical)",
            "images": self._names.pop(patient_id),
            "all_images_qc_pass": all(v[2] for v in done.values()),
        }
        path = write_json(output_path(self.out_dir, "patients", patient_id, ".json"), data)
        self.written.append(path)
        return path

    def incomplete(self) -> dict[str, list[str]]:
        """Patients seen without all four images: ``{patient_id: missing "VIEW_INSTANT" names}``."""
        return {pid: sorted(f"{v}_{i}" for v, i in _NEEDED - set(m)) for pid, m in self._pending.items()}
