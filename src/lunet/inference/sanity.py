"""Sanity checks of a predicted label map that a reader of echocardiograms would make first.

The shape bounds of :mod:`lunet.inference.qc` (simplicity, convexity) pass a frame labelled myocardium from
edge to edge: a filled rectangle is perfectly simple and convex. These checks catch what they cannot:

- ``<structure>_touches_image_border``: the LV or LV_Epi reaches the outer ``border_px`` pixels of the image.
  A whole heart is in an apical view; a structure cut by the image edge is not a heart segmentation.
- ``lv_epi_touches_sector_border``: the LV_Epi reaches the edge of the ultrasound sector (the fan of the
  image, found as the convex hull of its largest bright component) — outside the sector there is no data.
- ``lv_area_out_of_range``: LV cavity area outside ``lv_area_mm2`` (default 3–100 cm²). Apical LV areas of
  adults span about 10–60 cm² (ED and ES); the range is wide so that only nonsense is flagged.
- ``myo_not_enclosing``: less than ``min_enclosure`` of the LV cavity's outline borders the myocardium. On
  an apical view the myocardium wraps the cavity except along the mitral plane (about a quarter of it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from lunet.data.labels import Label


@dataclass(frozen=True)
class SanityBounds:
    """Bounds of the sanity checks.

    Attributes:
        lv_area_mm2: (min, max) LV cavity area in mm².
        min_enclosure: least fraction (0–1) of the LV outline that must border the myocardium.
        border_px: width in pixels of the image / sector border band.
    """

    lv_area_mm2: tuple[float, float] = (300.0, 10000.0)
    min_enclosure: float = 0.5
    border_px: int = 1


def _edge_band(shape: tuple[int, int], width: int) -> np.ndarray:
    band = np.ones(shape, dtype=bool)
    band[width:-width, width:-width] = False
    return band


def sector_mask(image: np.ndarray) -> np.ndarray | None:
    """(rows, cols) bool: the ultrasound sector of a frame, or ``None`` when the data fill the whole frame.

    The sector is the convex hull of the largest connected component brighter than 5 % of the 99th
    percentile (the fan of a phased array is convex; text and ECG traces are separate components).
    """
    from scipy import ndimage
    from skimage.morphology import convex_hull_image

    image = np.asarray(image)
    top = float(np.percentile(image, 99)) if image.size else 0.0
    if top <= 0:
        return None
    components, count = ndimage.label(image > 0.05 * top)
    if count == 0:
        return None
    sizes = np.bincount(components.ravel())[1:]
    hull = convex_hull_image(components == int(np.argmax(sizes)) + 1)
    return None if hull.mean() > 0.97 else hull


def sanity_checks(
    label_map: np.ndarray,
    spacing: tuple[float, float],
    image: np.ndarray | None = None,
    bounds: SanityBounds | None = None,
) -> tuple[list[str], dict[str, object]]:
    """Flags of the failed sanity checks and the values measured.

    Args:
        label_map: (rows, cols) uint8 labels (``Label``).
        spacing: (row_mm, col_mm).
        image: the (rows, cols) frame, for the sector check (``None``: not made).
        bounds: :class:`SanityBounds` (defaults when ``None``).

    Returns:
        ``(flags, measures)``: flag names (see the module docstring); ``measures`` holds ``lv_area_mm2``,
        ``myo_enclosure`` (fraction of the LV outline bordering myocardium, None without LV), ``sector_found``
        and the bounds used.
    """
    from scipy import ndimage

    bounds = bounds or SanityBounds()
    label_map = np.asarray(label_map)
    lv = label_map == Label.LV
    epi = lv | (label_map == Label.MYO)
    flags: list[str] = []
    edge = _edge_band(label_map.shape, bounds.border_px)
    for name, mask in (("lv", lv), ("lv_epi", epi)):
        if (mask & edge).any():
            flags.append(f"{name}_touches_image_border")
    sector = sector_mask(image) if image is not None else None
    if sector is not None:
        inside = ndimage.binary_erosion(sector, iterations=bounds.border_px + 1, border_value=0)
        if (epi & ~inside).any() and "lv_epi_touches_image_border" not in flags:
            flags.append("lv_epi_touches_sector_border")
    area = float(lv.sum()) * float(spacing[0]) * float(spacing[1])
    enclosure = None
    if lv.any():
        low, high = bounds.lv_area_mm2
        if not low <= area <= high:
            flags.append("lv_area_out_of_range")
        ring = ndimage.binary_dilation(lv) & ~lv
        enclosure = float((label_map[ring] == Label.MYO).mean()) if ring.any() else 0.0
        if enclosure < bounds.min_enclosure:
            flags.append("myo_not_enclosing")
    measures: dict[str, object] = {
        "lv_area_mm2": area,
        "myo_enclosure": enclosure,
        "sector_found": sector is not None,
        "bounds": asdict(bounds),
    }
    return flags, measures
