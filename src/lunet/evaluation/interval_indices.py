"""What every interval calibration shares: the indices with an interval, their columns and bounds, the
per-pass values of a patient, and the error of an unreadable ``calibration.json``.

Split-conformal calibrations (:mod:`lunet.evaluation.interval_calibration`) and the CV+ calibration of a
cross-validation's ensemble (:mod:`lunet.evaluation.cv_plus`) both build on it;
:mod:`lunet.evaluation.interval_calibration` re-exports every name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "FORMAT",
    "INDICES",
    "INTERVAL_COLUMNS",
    "SPREAD_FLOORS",
    "VALUE_KEYS",
    "CalibrationFileError",
    "PatientPasses",
]

#: ``calibration.json`` format.
FORMAT = 1
#: Indices with an interval, their column stem, unit and bounds.
INDICES: dict[str, tuple[str, str, tuple[float, float]]] = {
    "ef_percent": ("ef", "percent", (0.0, 100.0)),
    "edv_ml": ("edv", "ml", (0.0, math.inf)),
    "esv_ml": ("esv", "ml", (0.0, math.inf)),
}
#: Output columns ``{index: (lo, hi)}``: ``ef_lo_percent`` … ``esv_hi_ml``.
INTERVAL_COLUMNS = {k: (f"{s}_lo_{u}", f"{s}_hi_{u}") for k, (s, u, _) in INDICES.items()}
#: Spreads below these are raised to them in the ``normalised`` score (EF points, ml): a patient whose passes
#: all agree would otherwise get a zero-width interval. About a tenth of the phantom's typical pass SD.
SPREAD_FLOORS = {"ef_percent": 0.25, "edv_ml": 0.5, "esv_ml": 0.5}
#: Columns of a pass: EDV (ml), ESV (ml), EF (%).
VALUE_KEYS = ("edv_ml", "esv_ml", "ef_percent")


class CalibrationFileError(ValueError):
    """A ``calibration.json`` that cannot be read; the message names the file and what is wrong."""


@dataclass
class PatientPasses:
    """EDV/ESV/EF of one patient under every pass.

    Attributes:
        patient: id.
        values: ``(passes, 3)`` EDV (ml), ESV (ml), EF (%) per pass (models × TTA passes, the first model's
            identity pass first); NaN where a mask is degenerate.
        names: ``model<k>:<pass>`` per row.
        seconds: wall time of the patient's passes (model calls, inverse maps and Simpson).
    """

    patient: str
    values: np.ndarray
    names: list[str]
    seconds: float = math.nan

    def point(self) -> dict[str, float]:
        """The first model's unaugmented pass: ``{"edv_ml", "esv_ml", "ef_percent"}``."""
        return dict(zip(VALUE_KEYS, (float(v) for v in self.values[0])))

    def spread(self) -> dict[str, float]:
        """SD (ddof 1) over the finite passes of each index (NaN with fewer than two)."""
        out = {}
        for j, key in enumerate(VALUE_KEYS):
            column = self.values[:, j]
            finite = column[np.isfinite(column)]
            out[key] = float(np.std(finite, ddof=1)) if finite.size > 1 else math.nan
        return out
