"""Reading the training cache (layout: :mod:`lunet.data.cache_format`): memory maps, one frame at a time."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from lunet.data.cache_format import ARRAYS, SOURCE_ARRAYS, CacheEntry, is_complete
from lunet.data.camus_errors import CamusFormatError


class CachedItem(NamedTuple):
    """One cached frame: image float32 (S, S), label uint8 (S, S), spacing (row_mm, col_mm) after resize,
    box0 (4,) normalised or NaN, entry the index row."""

    image: np.ndarray
    label: np.ndarray
    spacing: np.ndarray
    box0: np.ndarray
    entry: CacheEntry


class CachedImages:
    """Read access to a complete cache (memory-mapped; indexing copies one frame).

    Attributes:
        images, labels, source_images, source_labels, spacing, original_spacing, original_shape, box0:
            read-only memory maps (see above).
        index: one :class:`~lunet.data.cache_format.CacheEntry` per row. size: ``S``. meta: the rest of
            ``index.json``.

    Pickling keeps only the folder (DataLoader workers re-open the maps instead of copying the arrays).
    """

    def __init__(self, cache_dir: str | os.PathLike[str]) -> None:
        self.cache_dir = Path(cache_dir)
        if not is_complete(self.cache_dir):
            raise CamusFormatError(
                f"{self.cache_dir}: no complete lunet cache here (build it with `lunet preprocess`)"
            )
        meta = json.loads((self.cache_dir / "index.json").read_text())
        self.size: int = int(meta["size"])
        self.index: list[CacheEntry] = meta["entries"]
        self.meta = {k: v for k, v in meta.items() if k != "entries"}
        arrays = {
            name: np.load(self.cache_dir / f"{name}.npy", mmap_mode="r")
            for name in ARRAYS
            if name not in SOURCE_ARRAYS or (self.cache_dir / f"{name}.npy").is_file()
        }
        self.images: np.ndarray = arrays["images"]
        self.labels: np.ndarray = arrays["labels"]
        self.source_images: np.ndarray | None = arrays.get("source_images")
        self.source_labels: np.ndarray | None = arrays.get("source_labels")
        self.spacing: np.ndarray = arrays["spacing"]
        self.original_spacing: np.ndarray = arrays["original_spacing"]
        self.original_shape: np.ndarray = arrays["original_shape"]
        self.box0: np.ndarray = arrays["box0"]
        if any(len(array) != len(self.index) for array in arrays.values()):
            raise CamusFormatError(
                f"{self.cache_dir}: arrays and index.json disagree; delete the folder and rebuild"
            )

    def require_source(self) -> None:
        """Raise :class:`CamusFormatError` unless the cache holds the crop-source arrays."""
        if self.source_images is None or self.source_labels is None:
            raise CamusFormatError(
                f"{self.cache_dir}: no crop-source arrays (source_images.npy, source_labels.npy): the "
                "cache was built for a model that does not crop; rebuild it with them "
                "(build_cache(crop_source=True), `lunet preprocess` without --no-crop-source)"
            )

    def __getstate__(self) -> dict:
        return {"cache_dir": self.cache_dir}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["cache_dir"])  # type: ignore[misc]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> CachedItem:
        return CachedItem(
            np.array(self.images[i]),
            np.array(self.labels[i]),
            np.array(self.spacing[i]),
            np.array(self.box0[i]),
            self.index[i],
        )

    def indices_for(self, patient_ids: Iterable[str]) -> np.ndarray:
        """Row indices (int64, cache order) of every frame of the given patients."""
        wanted = set(patient_ids)
        return np.array([i for i, e in enumerate(self.index) if e["patient_id"] in wanted], dtype=np.int64)
