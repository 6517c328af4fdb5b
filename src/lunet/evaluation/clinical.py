"""Clinical indices: LV volumes by Simpson's biplane method of discs and the ejection fraction.

Simpson's biplane rule (LU-Net, TUFFC 2020, Sec. IV-B3, ref. [22]) on the LV cavity masks of the apical 2CH
and 4CH views: ``V = π/4 · Σ d2_i · d4_i · h`` over ``n`` discs of height ``h``, mm³ → ml (/1000). The disc
geometry of one view (contour, mitral plane, apex, diameters) is in :mod:`lunet.evaluation.simpson`, in two
conventions (``SimpsonOptions.convention``):

- ``geometric``: each instant has its own long axis; ``h = L / n`` with ``L`` the longer of the two views'
  axes at that instant; discs at mid-slice. Checked against analytic spheroid volumes (within 1 %).
- ``camus``: the CAMUS authors' published code (vitalab/vital ``heart_us.py``), which made the dataset's
  reference volumes: first disc on the mitral plane, widths walked through the mask, one disc height per
  patient (the largest ``L / 20`` of its four masks, 2CH/4CH × ED/ES), shared by EDV and ESV; not rounded to
  whole ml as the published code does. Configs that say ``camus`` get this (since issue 23).
- ``camus-arc``: lunet's earlier variant (first disc just above the mitral arc at full width; 2–6 % larger
  volumes on the phantom); kept for old numbers.

:func:`patient_volumes` is the one definition of a patient's EDV/ESV/EF (evaluation, ``lunet volumes`` and
``lunet predict`` call it). Which convention is the default: :func:`default_simpson_options`.
Degenerate masks (empty, fewer than 4 pixels, long axis under 1 mm) give NaN and a logged warning.
Agreement statistics are in :mod:`lunet.evaluation.agreement`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

import numpy as np

from lunet.evaluation.simpson import EF_CONVENTIONS, SHARED_HEIGHT_CONVENTIONS, SimpsonOptions, view_discs

__all__ = [
    "EF_CONVENTIONS",
    "SimpsonOptions",
    "default_simpson_options",
    "ejection_fraction_percent",
    "patient_volumes",
    "simpson_biplane_ml",
]

logger = logging.getLogger(__name__)

LvMasks = Mapping[tuple[str, str], tuple[np.ndarray, tuple[float, float]]]


def default_simpson_options(synthetic: bool, convention: str | None = None) -> SimpsonOptions:
    """The Simpson convention of an evaluation: ``convention`` when given, else ``camus`` on CAMUS data
    (its reference EDV/ESV/EF were computed that way) and ``geometric`` on the phantom (its truth is the
    analytic volume, which the per-instant axis follows; ``camus`` is biased there, see the README)."""
    if convention is None:
        convention = "geometric" if synthetic else "camus"
    return SimpsonOptions.for_convention(convention)


def _view_discs(
    mask: np.ndarray, spacing: tuple[float, float], options: SimpsonOptions, name: str
) -> tuple[np.ndarray, float] | None:
    """``(diameters (n_discs,) mm, long-axis length mm)`` of one view, or None (warned) when degenerate."""
    discs = view_discs(mask, spacing, options)
    if discs is None:
        logger.warning(
            "Simpson: degenerate %s LV mask (empty, under %d pixels or no long axis); volume is NaN",
            name,
            options.min_pixels,
        )
        return None
    return discs


def _volume_ml(d2: np.ndarray, d4: np.ndarray, height_mm: float) -> float:
    return math.pi / 4.0 * float(np.sum(d2 * d4)) * height_mm / 1000.0


def simpson_biplane_ml(
    mask_2ch: np.ndarray,
    spacing_2ch: tuple[float, float],
    mask_4ch: np.ndarray,
    spacing_4ch: tuple[float, float],
    options: SimpsonOptions | None = None,
) -> float:
    """LV volume in ml of one instant by Simpson's biplane method of discs.

    Args:
        mask_2ch: (rows, cols) LV cavity mask of the apical 2-chamber view.
        spacing_2ch: (row_mm, col_mm) of the 2CH image.
        mask_4ch: (rows, cols) LV cavity mask of the apical 4-chamber view.
        spacing_4ch: (row_mm, col_mm) of the 4CH image.
        options: method choices; :class:`SimpsonOptions` defaults (``geometric``) when None.

    Returns:
        Volume in ml with the disc height of the longer of the two axes (in ``camus``, the patient-wide
        height needs all four masks: :func:`patient_volumes`); NaN (with a warning) when a mask is degenerate.
    """
    options = options or SimpsonOptions()
    a2c = _view_discs(mask_2ch, spacing_2ch, options, "2CH")
    a4c = _view_discs(mask_4ch, spacing_4ch, options, "4CH")
    if a2c is None or a4c is None:
        return float("nan")
    (d2, l2), (d4, l4) = a2c, a4c
    return _volume_ml(d2, d4, max(l2, l4) / options.n_discs)


def patient_volumes(lv_masks: LvMasks, options: SimpsonOptions | None = None) -> dict[str, float]:
    """EDV, ESV (ml) and EF (%) of one patient by Simpson's biplane rule, in ``options.convention``.

    Args:
        lv_masks: ``{(view, instant): (lv_mask (rows, cols) bool, spacing (row_mm, col_mm))}``, views
            ``"2CH"``/``"4CH"`` and instants ``"ED"``/``"ES"``; missing keys give NaN for that instant.
        options: Simpson choices (``geometric`` defaults when None).

    Returns:
        ``{"edv_ml", "esv_ml", "ef_percent"}``; NaN where a mask is missing or degenerate. In ``camus`` the
        disc height is the largest ``L / n`` of the patient's non-degenerate masks, shared by EDV and ESV.
    """
    options = options or SimpsonOptions()
    discs = {
        key: _view_discs(mask, spacing, options, f"{key[0]} {key[1]}")
        for key, (mask, spacing) in lv_masks.items()
    }
    shared = max((d[1] for d in discs.values() if d is not None), default=math.nan) / options.n_discs
    out: dict[str, float] = {}
    for instant, key in (("ED", "edv_ml"), ("ES", "esv_ml")):
        a2c, a4c = discs.get(("2CH", instant)), discs.get(("4CH", instant))
        if a2c is None or a4c is None:
            out[key] = math.nan
            continue
        height = (
            shared
            if options.convention in SHARED_HEIGHT_CONVENTIONS
            else max(a2c[1], a4c[1]) / options.n_discs
        )
        out[key] = _volume_ml(a2c[0], a4c[0], height)
    out["ef_percent"] = ejection_fraction_percent(out["edv_ml"], out["esv_ml"])
    return out


def ejection_fraction_percent(edv_ml: float, esv_ml: float) -> float:
    """EF = (EDV − ESV) / EDV in %; NaN when EDV is not positive or either volume is NaN."""
    if not (edv_ml > 0) or not np.isfinite(esv_ml):
        return float("nan")
    return 100.0 * (edv_ml - esv_ml) / edv_ml
