"""The preprocessed training cache: memory-mapped ``.npy`` arrays of every annotated CAMUS frame.

This module is the format: the layout below, its constants, the index entry type, the folder name and the
completeness check. :mod:`lunet.data.cache_builder` writes it (``build_cache``),
:mod:`lunet.data.cache_reader` reads it (``CachedImages``); :mod:`lunet.data.cache` gathers the three.

Layout of ``cache_dir`` (N = annotated frames, 4 per readable patient; S = size). With ``frames="all"``
each patient's four ED/ES rows are followed by one row per frame of each half sequence that has a ground
truth (``*_half_sequence_gt``), oriented ED → ES, with ``instant`` ``"sequence"`` and ``frame`` (1-based);
such a cache has its own key and its own default folder (:func:`cache_name`), so it is never taken for an
ED/ES cache.

- ``images.npy`` float32 ``(N, S, S)``: :func:`lunet.data.preprocess.prepare_image` (resized, then min–max);
- ``labels.npy`` uint8 ``(N, S, S)`` (nearest; zeros without ground truth);
- ``source_images.npy`` float32 ``(N, 2S, 2S)`` and ``source_labels.npy`` uint8 ``(N, 2S, 2S)``: the same
  frames prepared at :func:`lunet.data.preprocess.crop_source_size` (2S), the source that LU-Net and the
  oracle crop their ROI (and its training target) from (``lunet.models.roi``); 5× the bytes of the S×S arrays,
  so only a cache built with ``crop_source=True`` (the default; training: the models whose
  ``ModelSpec.crops_roi``) holds them, and its key says so (a cache with them also serves a model without);
- ``spacing.npy`` float64 ``(N, 2)`` after resize, ``original_spacing.npy`` ``(N, 2)``, ``original_shape.npy``
  int64 ``(N, 2)``, all ``(row_mm, col_mm)`` / ``(rows, cols)``;
- ``box0.npy`` float64 ``(N, 4)``: ``lunet.boxes.reference_box(label, margin=0)`` on the resized label
  (NaN without ground truth or without LV/myocardium);
- ``index.json``: ``{"key", "size", "root", "entries": [...], "skipped": [...]}`` with one entry
  ``{patient_id, view, instant, quality, ef_percent, has_gt}`` (+ ``frame``) per row (:class:`CacheEntry`);
- ``complete.json`` written last. It holds the cache key (format version, size, and a hash of the source
  files' names, sizes and mtimes); a cache without it, or with another key, is rebuilt.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TypedDict

CACHE_VERSION = 2  # 2: the crop source arrays
#: Which frames a cache holds: the annotated ED/ES frames (the papers), or those plus every frame of the
#: half sequences with a ground truth (training on all frames; ED/ES stay the validation and test frames).
FRAME_MODES = ("ed-es", "all")
#: ``instant`` of the index entries of half-sequence frames (``frames="all"``).
SEQUENCE = "sequence"
MARKER = "complete.json"
ARRAYS = (
    "images", "labels", "source_images", "source_labels", "spacing", "original_spacing", "original_shape",
    "box0",
)  # fmt: skip
#: Arrays a cache built without the crop source (``crop_source=False``), a hand-made or an older one may lack
#: (then the attributes are ``None``, see :meth:`lunet.data.cache_reader.CachedImages.require_source`).
SOURCE_ARRAYS = ("source_images", "source_labels")


class _EntryFields(TypedDict):
    patient_id: str
    view: str  # "2CH" | "4CH"
    instant: str  # "ED" | "ES" | SEQUENCE
    quality: str  # "Good" | "Medium" | "Poor"
    ef_percent: float | None
    has_gt: bool


class CacheEntry(_EntryFields, total=False):
    """One row of ``index.json``'s ``entries`` (a JSON object; ``frame``, 1-based, only on half-sequence
    rows of a ``frames="all"`` cache)."""

    frame: int


def cache_name(root: str | os.PathLike[str], size: int, frames: str = "ed-es") -> str:
    """Default cache folder name of a dataset: ``<root name>_<size>``, plus ``_all`` with ``frames="all"``."""
    return f"{Path(root).resolve().name}_{size}" + ("" if frames == "ed-es" else f"_{frames}")


def check_frames(frames: str) -> None:
    """Raise ``ValueError`` unless ``frames`` is one of :data:`FRAME_MODES`."""
    if frames not in FRAME_MODES:
        raise ValueError(f"frames must be one of {FRAME_MODES}, got {frames!r}")


def is_complete(cache_dir: Path, key: str | None = None) -> bool:
    """Whether ``cache_dir`` holds a complete cache (with the key ``key`` when given)."""
    marker = cache_dir / MARKER
    if not marker.is_file():
        return False
    try:
        stored = json.loads(marker.read_text()).get("key")
    except (OSError, ValueError):
        return False
    return key is None or stored == key
