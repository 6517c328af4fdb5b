"""Cardiac phases from an LV area curve: corrupted frames, ED/ES per beat, phase alignment of two views.

CAMUS defines ED as the frame of largest and ES as the frame of smallest LV. On a predicted curve a raw
``argmax`` follows every jitter and every failed frame, so the rule here is:

1. *Corrupted frames.* A frame is flagged when its image is unusable (non-finite or constant, found by the
   caller) or when its area is an outlier of a Hampel filter: it differs from the median of its 5-frame
   window (the first and last frames: from the line through their two neighbours) by more than
   ``max(k · 1.4826 · MAD, floor · median area)`` (``k = 4``, ``floor = 0.15``). A monotone
   or smoothly peaked curve has (almost) no residual, so only isolated spikes and drops are flagged; two
   adjacent bad frames are still caught. A curve of fewer than ``HAMPEL_MIN_FRAMES`` (7) frames is too short
   to tell a spike from the systole itself: there only unusable images are flagged. Flagged frames are
   replaced by linear interpolation between their unflagged neighbours and are never chosen as ED or ES.
2. *Smoothing.* A Gaussian of ``sigma`` frames (1 by default, ``mode="nearest"``) on the cleaned curve.
3. *Half sequence* (``kind="half"``; CAMUS files run ED → ES or ES → ED): ED = argmax, ES = argmin of the
   smoothed curve; the order of the two says which way the file runs.
4. *Cycle of several beats* (``kind="cycle"``): the beat period from the first autocorrelation peak; ED frames
   are the interior maxima (``scipy.signal.find_peaks``) at least ``0.6 ·`` period apart with a prominence
   of at least 0.3 of the curve's range; ES frames the interior minima by the same rule. Before the first
   ES (after the last ES) an ED is also taken when the recording cuts its outer side short: the largest
   value there, if it is a local maximum off the first and last frames standing 0.3 of the range above the
   curve towards that ES (and the same for ES between the ends and the nearest ED). A maximum or minimum on
   the first or last frame is not taken: the true extremum may lie outside the recording.
   ``kind="auto"``: half when the smoothed curve is monotone in rank (|Spearman ρ| ≥ 0.9 with time), else
   cycle (falling back to half when no interior extremum is found).

Phase (for aligning two views acquired separately): ED of beat ``k`` is phase ``k``, its ES ``k + 0.5``;
frames between landmarks are interpolated linearly; frames outside the first and last landmark have no phase.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, signal

#: Hampel filter: window (frames), threshold in robust SDs, and floor as a fraction of the median area.
HAMPEL_WINDOW = 5
HAMPEL_K = 4.0
HAMPEL_FLOOR = 0.15
#: Shortest curve whose areas are judged (a 3-frame ED→ES curve has no neighbours' trend to compare with).
HAMPEL_MIN_FRAMES = 7
#: find_peaks rules of a cycle, as fractions of the period and of the curve's range.
PEAK_DISTANCE = 0.6
PEAK_PROMINENCE = 0.3
MONOTONE_RHO = 0.9
KINDS = ("auto", "half", "cycle")


@dataclass(frozen=True)
class Phases:
    """ED/ES of one view's area curve (0-based frame indices in the file's order).

    Attributes:
        ed_frames, es_frames: one per beat, ascending.
        kind: ``"half"`` or ``"cycle"`` (what was analysed).
        direction: ``"ED→ES"`` or ``"ES→ED"`` for a half sequence, ``""`` for a cycle.
        flagged: frames judged corrupted (excluded from ED/ES), ascending.
        smoothed: ``(T,)`` the cleaned, smoothed curve the phases were read from (same unit as the input).
        period_frames: beat period of a cycle in frames (NaN for a half sequence).
    """

    ed_frames: tuple[int, ...]
    es_frames: tuple[int, ...]
    kind: str
    direction: str
    flagged: tuple[int, ...]
    smoothed: np.ndarray
    period_frames: float


def _end_reference(values: np.ndarray, bad: np.ndarray, end: int) -> float:
    """Expected first (``end=0``) or last (``-1``) value: the line through the 2 nearest good frames."""
    order = np.arange(values.size) if end == 0 else np.arange(values.size)[::-1]
    good = [int(i) for i in order[1:] if not bad[i]][:2]
    if len(good) < 2:
        return float(values[end])
    j, k = good
    t = 0 if end == 0 else values.size - 1
    return float(values[j] + (values[j] - values[k]) * (t - j) / (j - k))


def hampel_outliers(values: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
    """``(T,)`` bool: the isolated spikes or drops of a curve (rule 1 of the module docstring).

    Args:
        values: ``(T,)`` area curve (any unit); NaN counts as an outlier.
        known: ``(T,)`` bool, frames already known to be bad (left out of the references), or None.
    """
    values = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(values)
    if known is not None:
        bad |= np.asarray(known, dtype=bool)
    if values.size < HAMPEL_MIN_FRAMES or bad.all():
        return bad
    filled = fill_flagged(np.where(np.isfinite(values), values, 0.0), bad)
    reference = ndimage.median_filter(filled, size=HAMPEL_WINDOW, mode="nearest")
    residual = np.abs(filled - reference)
    scale = 1.4826 * float(np.median(residual[1:-1]))
    threshold = max(HAMPEL_K * scale, HAMPEL_FLOOR * abs(float(np.median(filled))))
    flagged = bad | (residual > threshold)
    flagged[[0, -1]] = bad[[0, -1]]  # a clamped window holds the end frame 3 times: extrapolate there instead
    for end in (0, -1):
        if not bad[end] and abs(filled[end] - _end_reference(filled, flagged, end)) > threshold:
            flagged[end] = True
    return flagged


def fill_flagged(values: np.ndarray, flagged: np.ndarray) -> np.ndarray:
    """``values`` with the flagged entries linearly interpolated from the unflagged ones (ends: nearest)."""
    values = np.asarray(values, dtype=np.float64)
    keep = ~np.asarray(flagged, dtype=bool)
    if keep.all() or not keep.any():
        return values.copy()
    t = np.arange(values.size)
    return np.interp(t, t[keep], values[keep])


def _rank_correlation(values: np.ndarray) -> float:
    """Spearman ρ of ``values`` with their index (NaN for a constant curve)."""
    ranks = np.argsort(np.argsort(values, kind="stable"), kind="stable").astype(np.float64)
    t = np.arange(values.size, dtype=np.float64)
    if ranks.std() == 0 or values.size < 3:
        return float("nan")
    return float(np.corrcoef(ranks, t)[0, 1])


def beat_period(values: np.ndarray) -> float:
    """Beat period in frames: the lag of the first autocorrelation peak (NaN when there is none)."""
    x = np.asarray(values, dtype=np.float64) - float(np.mean(values))
    if x.size < 6 or not np.any(x):
        return float("nan")
    corr = np.correlate(x, x, mode="full")[x.size - 1 :]
    peaks, _ = signal.find_peaks(corr[: int(0.8 * x.size)])
    peaks = peaks[peaks >= 3]
    return float(peaks[0]) if peaks.size else float("nan")


def _end_extremum(curve: np.ndarray, lo: int, hi: int, rise: float) -> int | None:
    """The largest value of ``curve[lo:hi]`` when it is a local maximum off the recording's first and last
    frames that stands ``rise`` above the curve between it and the interior (``hi`` side if ``lo == 0``)."""
    if hi - lo < 2:
        return None
    i = lo + int(np.argmax(curve[lo:hi]))
    if not 0 < i < curve.size - 1 or not (curve[i] > curve[i - 1] and curve[i] >= curve[i + 1]):
        return None
    inner = curve[i:hi] if lo == 0 else curve[lo : i + 1]
    return i if curve[i] - float(inner.min()) >= rise else None


def _cycle_extrema(smoothed: np.ndarray, flagged: np.ndarray) -> tuple[list[int], list[int], float]:
    period = beat_period(smoothed)
    span = float(np.ptp(smoothed))
    distance = max(1.0, PEAK_DISTANCE * period) if math.isfinite(period) else 1.0
    found = []
    for sign in (1.0, -1.0):
        peaks, _ = signal.find_peaks(sign * smoothed, distance=distance, prominence=PEAK_PROMINENCE * span)
        found.append([int(p) for p in peaks if not flagged[p]])
    for sign, same, other in ((1.0, found[0], found[1]), (-1.0, found[1], found[0])):
        if not other:
            continue
        curve = sign * smoothed
        # before the first opposite extremum, after the last one: an extremum the prominence rule misses
        # because the recording cuts its outer side short (rule 4 of the module docstring)
        for lo, hi in ((0, other[0]), (other[-1] + 1, smoothed.size)):
            i = _end_extremum(curve, lo, hi, PEAK_PROMINENCE * span)
            if i is not None and not flagged[i] and all(abs(i - p) >= distance for p in same):
                same.append(i)
        same.sort()
    return found[0], found[1], period


def detect_phases(
    area: np.ndarray, kind: str = "auto", flagged: np.ndarray | None = None, sigma: float = 1.0
) -> Phases:
    """ED and ES frames of an LV area curve (rules in the module docstring).

    Args:
        area: ``(T,)`` LV area per frame (mm² or pixels) in the file's frame order.
        kind: ``"auto" | "half" | "cycle"``.
        flagged: ``(T,)`` bool, frames already known to be corrupted (unusable image), or None.
        sigma: Gaussian smoothing in frames (0: none).

    Returns:
        :class:`Phases`. A one-frame curve gives ED = ES = 0.

    Raises:
        ValueError: an unknown ``kind`` or an empty curve.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown sequence kind {kind!r}; choose one of {', '.join(KINDS)}")
    area = np.asarray(area, dtype=np.float64).ravel()
    if area.size == 0:
        raise ValueError("detect_phases: empty area curve")
    bad = hampel_outliers(area, flagged)
    clean = fill_flagged(area, bad)
    smoothed = ndimage.gaussian_filter1d(clean, sigma, mode="nearest") if sigma > 0 else clean
    flagged_idx = tuple(int(i) for i in np.flatnonzero(bad))
    if kind == "auto":
        rho = _rank_correlation(smoothed)
        kind = "half" if not math.isfinite(rho) or abs(rho) >= MONOTONE_RHO else "cycle"
    if kind == "cycle":
        eds, ess, period = _cycle_extrema(smoothed, bad)
        if eds or ess:
            return Phases(tuple(eds), tuple(ess), "cycle", "", flagged_idx, smoothed, period)
    usable = np.where(bad, np.nan, smoothed) if not bad.all() else smoothed
    ed, es = int(np.nanargmax(usable)), int(np.nanargmin(usable))
    direction = "ED→ES" if ed <= es else "ES→ED"
    return Phases((ed,), (es,), "half", direction, flagged_idx, smoothed, float("nan"))


def frame_phases(n_frames: int, phases: Phases) -> np.ndarray:
    """``(T,)`` cardiac phase of each frame: ED of beat k is k, its ES k + 0.5; NaN outside the landmarks."""
    marks = sorted([(f, "ED") for f in phases.ed_frames] + [(f, "ES") for f in phases.es_frames])
    out = np.full(n_frames, np.nan)
    if not marks:
        return out
    values, current = [], 0.0 if marks[0][1] == "ED" else 0.5
    previous = None
    for _, label in marks:
        if phases.kind == "half":  # one ED and one ES, whichever way the file runs
            values.append(0.0 if label == "ED" else 0.5)
            continue
        if previous is not None:
            current += 0.5 if label != previous else 1.0
        values.append(current)
        previous = label
    frames = np.array([f for f, _ in marks], dtype=np.float64)
    if frames.size == 1:
        out[int(frames[0])] = values[0]
        return out
    if frames[0] == frames[-1]:
        return out
    t = np.arange(n_frames, dtype=np.float64)
    inside = (t >= frames[0]) & (t <= frames[-1])
    out[inside] = np.interp(t[inside], frames, np.asarray(values))
    return out


def common_phase_grid(phase_a: np.ndarray, phase_b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Resample two views to one phase axis over the phases both cover.

    Args:
        phase_a, phase_b: ``(T_a,)``, ``(T_b,)`` from :func:`frame_phases` (NaN where undefined).

    Returns:
        ``(grid, frames_a, frames_b)``: ``(N,)`` phases (N = the larger number of frames inside the overlap)
        and, for each, the nearest frame of each view. Empty arrays when the views share no phase.
    """
    empty = np.zeros(0), np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    ok_a, ok_b = np.isfinite(phase_a), np.isfinite(phase_b)
    if ok_a.sum() < 1 or ok_b.sum() < 1:
        return empty
    lo = max(float(np.nanmin(phase_a)), float(np.nanmin(phase_b)))
    hi = min(float(np.nanmax(phase_a)), float(np.nanmax(phase_b)))
    if hi < lo:
        return empty
    count = max(
        int(np.sum((phase_a >= lo) & (phase_a <= hi))), int(np.sum((phase_b >= lo) & (phase_b <= hi)))
    )
    grid = np.linspace(lo, hi, max(count, 1))

    def nearest(phase: np.ndarray) -> np.ndarray:
        idx = np.flatnonzero(np.isfinite(phase))
        return idx[np.abs(phase[idx][None, :] - grid[:, None]).argmin(axis=1)]

    return grid, nearest(phase_a), nearest(phase_b)
