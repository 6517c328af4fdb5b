"""Geometric and anatomical outliers (LU-Net, TUFFC 2020, Sec. IV-B2; RU-Net, IUS 2019, Table I).

The one source of outlier bounds in lunet: ``lunet evaluate``, the report and ``lunet predict``'s quality
control (:mod:`lunet.inference.qc`) all take them from :class:`OutlierThresholds`.

- *Geometric*, per image and structure: a d_m or d_H of LV_Endo (or LV_Epi) above its instant's bound (ED
  d_m 3.5 mm, d_H 8.2 mm; ES 4.0 mm, 8.8 mm, RU-Net Table I). A NaN distance (an empty prediction) counts
  as out of bounds. LU-Net's rule is per patient: "at least one of its eight distance scores (d_m and d_H at
  ED and ES for both apical two and four-chamber views)"; it does not name the structure, so we report it
  for LV_Endo, LV_Epi and either (:func:`patient_records`).
- The papers' published counts are per *image*: LU-Net Table IV's 423 (21 %), 95 (5 %), 71 (4 %) for
  U-Net1 are fractions of 2000 images, Table II's 240 (15 %) of 1624 (406 patients × 4), the
  intra-observer 21 (13 %) of 160 (40 patients × 4); RU-Net Table II likewise (396 = 20 % of 2000). The
  tables' "paper" column is therefore the number of images with either structure out of bounds; the
  per-patient counts sit beside it.
- *Anatomical*, per image: simplicity or convexity of the predicted LV cavity or "Myo" structure below the
  lowest value seen on expert annotations. RU-Net Table I is scrambled in the text extraction ("LV 0.741
  0.529 / Myo 0.960 0.694" under "Sp Cx"); our reading: LV Sp 0.741, LV Cx 0.960, Myo Sp
  0.529, Myo Cx 0.694. NaN (an empty structure) counts as an outlier. It needs no ground truth.
- Which structure is "Myo"? LU-Net measures Sp and Cx "of the corresponding segmented contours" (the
  endocardial and epicardial contours). The myocardium *region* is a horseshoe around the cavity (Sp
  ~0.3–0.45, Cx ~0.3–0.5 on every expert-like mask), so bounds of 0.529 / 0.694 would flag every
  annotation. We measure the "Myo" row on the epicardial contour (LV ∪ myocardium) by default
  (``myo_shape_structure="epi"``); ``"myo"`` applies it to the myocardium region.
- Where the anatomical bounds come from (:data:`ANATOMICAL_BOUND_SOURCES`): ``paper`` = RU-Net Table I (real
  data); ``reference`` = the papers' rule applied to the references at hand (their lowest Sp / Cx,
  :func:`reference_anatomical_bounds`); ``resampled`` = the same on the references passed through the
  predictions' resolution path (down to the network size, nearest neighbour as the training targets, and back
  by bilinear interpolation of one-hot maps and argmax, as predictions come back). A prediction made at
  network size cannot be smoother than that, so ``resampled`` is the rule for synthetic data, whose analytic
  references are smoother than anything a network at 64² or 256² can draw (``reference`` flags even perfect
  network-size predictions). ``auto``: ``resampled`` on synthetic data when the network size is known,
  ``reference`` when not, ``paper`` on real data.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

from lunet.evaluation.schema import ImageRecord, PatientRecord

#: Structures the "Myo" row of RU-Net Table I may be read as (per-image column prefixes).
MYO_SHAPE_STRUCTURES = ("epi", "myo")
#: Structures of the geometric rule (column prefixes of the distances).
GEOMETRIC_STRUCTURES = ("lv_endo", "lv_epi")
ANATOMICAL_BOUND_SOURCES = ("paper", "reference", "resampled", "auto")
PAPER_SOURCE = "RU-Net Table I (anatomical values: our reading of the scrambled table)"


@dataclass(frozen=True)
class OutlierThresholds:
    """Outlier bounds; defaults are RU-Net Table I (anatomical part: our reading of the scrambled table).

    Attributes:
        ed_mad_mm, ed_hd_mm, es_mad_mm, es_hd_mm: upper bounds of d_m and d_H (mm) at ED and ES.
        lv_simplicity, lv_convexity, myo_simplicity, myo_convexity: lower bounds of Sp and Cx.
        myo_shape_structure: what the "Myo" bounds apply to (``"epi"`` or ``"myo"``).
        anatomical_source: where the anatomical values come from, in words (shown in every table and report).
    """

    ed_mad_mm: float = 3.5
    ed_hd_mm: float = 8.2
    es_mad_mm: float = 4.0
    es_hd_mm: float = 8.8
    lv_simplicity: float = 0.741
    lv_convexity: float = 0.960
    myo_simplicity: float = 0.529
    myo_convexity: float = 0.694
    myo_shape_structure: str = "epi"
    anatomical_source: str = PAPER_SOURCE

    def __post_init__(self) -> None:
        if self.myo_shape_structure not in MYO_SHAPE_STRUCTURES:
            raise ValueError(
                f"myo_shape_structure must be one of {MYO_SHAPE_STRUCTURES}, got {self.myo_shape_structure!r}"
            )

    def to_dict(self) -> dict[str, object]:
        """JSON-ready copy (``tables.json["thresholds"]``)."""
        return asdict(self)

    def distance_bounds(self, instant: str) -> tuple[float, float]:
        """``(d_m, d_H)`` bounds in mm at ``instant`` ("ED" or "ES")."""
        instant = str(instant).upper()
        if instant == "ED":
            return self.ed_mad_mm, self.ed_hd_mm
        if instant == "ES":
            return self.es_mad_mm, self.es_hd_mm
        raise ValueError(f"instant must be 'ED' or 'ES', got {instant!r}")

    def shape_bounds(self) -> dict[str, tuple[float, float]]:
        """Lower bounds ``(Sp, Cx)`` by shape prefix: ``{"lv": ..., "epi" | "myo": ...}``."""
        return {
            "lv": (self.lv_simplicity, self.lv_convexity),
            self.myo_shape_structure: (self.myo_simplicity, self.myo_convexity),
        }

    def describe(self) -> str:
        """One line stating every bound and its source, for table captions and reports."""
        return (
            f"geometric: d_m > {self.ed_mad_mm} mm (ED) / {self.es_mad_mm} mm (ES) or "
            f"d_H > {self.ed_hd_mm} mm (ED) / {self.es_hd_mm} mm (ES), RU-Net Table I; "
            f"anatomical: LV Sp < {self.lv_simplicity:.3f}, LV Cx < {self.lv_convexity:.3f}, "
            f"Myo Sp < {self.myo_simplicity:.3f}, Myo Cx < {self.myo_convexity:.3f} "
            f"with Myo measured on the {_MYO_TEXT[self.myo_shape_structure]} "
            f"({self.anatomical_source})"
        )


_MYO_TEXT = {"epi": "epicardial contour (LV ∪ myocardium)", "myo": "myocardium region"}


def _out(value: float, bound: float, above: bool) -> bool:
    value = float(value)
    return math.isnan(value) or (value > bound if above else value < bound)


def geometric_flags(record: ImageRecord, thresholds: OutlierThresholds) -> dict[str, bool]:
    """Whether each structure's d_m or d_H of one image is above its instant's bound (NaN counts).

    Returns:
        ``{"lv_endo": bool, "lv_epi": bool}``.
    """
    mad, hd = thresholds.distance_bounds(record.instant)
    return {
        s: _out(getattr(record, f"{s}_mad_mm"), mad, True) or _out(getattr(record, f"{s}_hd_mm"), hd, True)
        for s in GEOMETRIC_STRUCTURES
    }


def anatomical_outlier(scores: ImageRecord | Mapping[str, float], thresholds: OutlierThresholds) -> bool:
    """Whether the predicted LV or "Myo" structure of one image has Sp or Cx below its bound (or NaN).

    Args:
        scores: an :class:`ImageRecord`, or a mapping with ``lv_simplicity``, ``lv_convexity``,
            ``{epi|myo}_simplicity``, ``{epi|myo}_convexity``.
        thresholds: bounds.
    """
    get = scores.get if isinstance(scores, Mapping) else lambda name: getattr(scores, name)
    return any(
        _out(get(f"{prefix}_simplicity"), sp, False) or _out(get(f"{prefix}_convexity"), cx, False)
        for prefix, (sp, cx) in thresholds.shape_bounds().items()
    )


def image_flags(
    record: ImageRecord, thresholds: OutlierThresholds, has_reference: bool
) -> dict[str, bool | None]:
    """The outlier fields of an :class:`ImageRecord` (the geometric ones None without a reference)."""
    flags: dict[str, bool | None] = {"anatomical": anatomical_outlier(record, thresholds)}
    if has_reference:
        geo = geometric_flags(record, thresholds)
        flags.update({f"geometric_{s}": v for s, v in geo.items()})
        flags["geometric"] = any(geo.values())
    else:
        flags.update(dict.fromkeys(("geometric_lv_endo", "geometric_lv_epi", "geometric")))
    return flags


def _any(values: Sequence[bool | None]) -> bool | None:
    known = [v for v in values if v is not None]
    return any(known) if known else None


def patient_records(images: Iterable[ImageRecord]) -> list[PatientRecord]:
    """Per-patient outlier flags (LU-Net's rule, per structure and either) from flagged image records.

    Args:
        images: image records of one or more models, with their flags set (:func:`image_flags`).

    Returns:
        One :class:`PatientRecord` per (model, patient), in first-seen order.
    """
    groups: dict[tuple[str, str], list[ImageRecord]] = {}
    for record in images:
        groups.setdefault((record.model, record.patient), []).append(record)
    out = []
    for (model, patient), rows in groups.items():
        geometric = _any([r.geometric for r in rows])
        anatomical = any(r.anatomical for r in rows)
        out.append(
            PatientRecord(
                model=model,
                patient=patient,
                quality=rows[0].quality,
                images=len(rows),
                geometric_lv_endo=_any([r.geometric_lv_endo for r in rows]),
                geometric_lv_epi=_any([r.geometric_lv_epi for r in rows]),
                geometric=geometric,
                anatomical=anatomical,
                both=None if geometric is None else geometric and anatomical,
            )
        )
    return out


def reference_anatomical_bounds(
    reference_rows: Iterable[Mapping[str, float]], myo_shape_structure: str = "epi"
) -> dict[str, float]:
    """The papers' anatomical rule applied to the references at hand: the lowest Sp and Cx they reach.

    Args:
        reference_rows: shape scores of reference masks (``lv_simplicity``, ``lv_convexity``,
            ``{epi|myo}_simplicity``, ``{epi|myo}_convexity``, as :func:`lunet.evaluation.shape.shape_scores`
            names them); NaN values (a reference without that structure) are left out.
        myo_shape_structure: which columns give the "Myo" bounds.

    Returns:
        ``{"lv_simplicity", "lv_convexity", "myo_simplicity", "myo_convexity"}``: the minimum of each.

    Raises:
        ValueError: no reference row holds a finite value for one of the four.
    """
    if myo_shape_structure not in MYO_SHAPE_STRUCTURES:
        raise ValueError(
            f"myo_shape_structure must be one of {MYO_SHAPE_STRUCTURES}, got {myo_shape_structure!r}"
        )
    columns = {
        "lv_simplicity": "lv_simplicity",
        "lv_convexity": "lv_convexity",
        "myo_simplicity": f"{myo_shape_structure}_simplicity",
        "myo_convexity": f"{myo_shape_structure}_convexity",
    }
    rows = list(reference_rows)
    bounds = {}
    for field, column in columns.items():
        values = [v for v in (float(r.get(column, math.nan)) for r in rows) if math.isfinite(v)]
        if not values:
            raise ValueError(f"no reference mask has a finite {column}: cannot derive the {field} bound")
        bounds[field] = min(values)
    return bounds
