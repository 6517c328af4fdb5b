"""Orientation of CAMUS (half) sequences: ED → ES, whichever way the file stores them."""

from __future__ import annotations

import numpy as np

from lunet.data.camus_cfg import ViewInfo

#: The image evidence decides only when one orientation fits at least this much better than the other.
_DECISIVE_RATIO = 0.5


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def orient_sequence(
    frames: np.ndarray, ed: np.ndarray | None, es: np.ndarray | None, info: ViewInfo | None
) -> tuple[bool, str]:
    """Decide whether a sequence is stored ES → ED.

    Rule: first compare the first/last frames with the ED and ES images (mean absolute difference);
    ``forward = d(first, ED) + d(last, ES)``, ``backward = d(first, ES) + d(last, ED)``. When the smaller
    is below half the larger, it decides (``"images"``). Otherwise the cfg indices decide: ``ED > ES``
    means stored ES → ED (``"cfg"``). Without either, the stored order is kept (``"default"``).

    Args:
        frames: ``(T, rows, cols)`` as stored. ed, es: ``(rows, cols)`` annotated frames or None.
        info: the view's cfg or None.

    Returns:
        ``(reverse, source)``: reverse is True when the frames must be flipped to run ED → ES.
    """
    first, last = frames[0], frames[-1]
    if ed is not None and es is not None and ed.shape == es.shape == first.shape and len(frames) > 1:
        forward = _distance(first, ed) + _distance(last, es)
        backward = _distance(first, es) + _distance(last, ed)
        if min(forward, backward) < _DECISIVE_RATIO * max(forward, backward):
            return backward < forward, "images"
    if info is not None and info.ed != info.es:
        return info.ed > info.es, "cfg"
    return False, "default"
