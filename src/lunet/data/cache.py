"""The preprocessed training cache: memory-mapped ``.npy`` arrays of every annotated CAMUS frame.

The public names in one place: the format (:mod:`lunet.data.cache_format`: layout, ``FRAME_MODES``,
``CacheEntry``, ``cache_name``), the builder (:mod:`lunet.data.cache_builder`: ``build_cache``) and the reader
(:mod:`lunet.data.cache_reader`: ``CachedImages``).
"""

from __future__ import annotations

from lunet.data.cache_builder import build_cache, cache_fingerprint
from lunet.data.cache_format import (
    ARRAYS,
    CACHE_VERSION,
    FRAME_MODES,
    MARKER,
    SEQUENCE,
    SOURCE_ARRAYS,
    CacheEntry,
    cache_name,
    check_frames,
    is_complete,
)  # fmt: skip
from lunet.data.cache_reader import CachedImages, CachedItem

__all__ = [
    "ARRAYS", "CACHE_VERSION", "FRAME_MODES", "MARKER", "SEQUENCE", "SOURCE_ARRAYS", "CacheEntry",
    "CachedImages", "CachedItem", "build_cache", "cache_fingerprint", "cache_name", "check_frames",
    "is_complete",
]  # fmt: skip
