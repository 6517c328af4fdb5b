"""Timing of the phantom's sequences: half sequences ED → ES and, on request, cines of several beats.

A frame's *phase fraction* ``f`` places it between ED (``f = 0``, largest LV) and ES (``f = 1``, smallest
LV); every size of the heart is interpolated linearly in ``f`` (``anatomy.interpolate_phase``), so the LV
volume and area are monotone in ``f``. Systole follows ``f = (1 − cos(π t/T_s))/2``; diastole refills the
LV in three steps (rapid filling 75 % in the first 35 % of diastole, diastasis, atrial contraction).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: ``sequence_frames`` values: "short" (fast default, ``intermediate_frames`` between ED and ES) or
#: "realistic" (the systole sampled at the patient's frame rate: 10–30 frames, as in CAMUS).
SEQUENCE_FRAMES = ("short", "realistic")
#: Frame rates (Hz) a patient's acquisition is drawn from.
FRAME_RATES = (35.0, 40.0, 45.0, 50.0, 55.0, 60.0, 70.0, 80.0)
HALF_SEQUENCE_RANGE = (10, 30)
#: Most beats a cine may hold.
MAX_CYCLES = 8


@dataclass(frozen=True)
class Rhythm:
    """Heart rate and frame rate of one patient (drawn once, shared by its views)."""

    heart_rate_bpm: float
    frame_rate: float
    beat_jitter: tuple[float, ...]  # relative RR deviation of each beat of a cine (N(0, 4 %), clipped ±12 %)
    lead_in: float  # where a cine starts, as a fraction of the diastole before the first ED

    @property
    def rr_s(self) -> float:
        return 60.0 / self.heart_rate_bpm


def systole_s(rr_s: float) -> float:
    """ED → ES duration (s) for an RR interval (s): 0.33·√RR (≈ 0.26–0.36 s at 50–100 bpm)."""
    return 0.33 * float(np.sqrt(rr_s))


def sample_rhythm(rng: np.random.Generator, max_beats: int = MAX_CYCLES) -> Rhythm:
    """Heart rate 55–100 bpm, a frame rate of ``FRAME_RATES``, beat-to-beat RR variation."""
    hr = float(rng.uniform(55, 100))
    fr = float(rng.choice(FRAME_RATES))
    jitter = tuple(float(j) for j in np.clip(rng.normal(0.0, 0.04, max_beats), -0.12, 0.12))
    return Rhythm(hr, fr, jitter, float(rng.uniform(0.1, 0.9)))


def half_sequence_fractions(mode: str, intermediate_frames: int, rhythm: Rhythm) -> np.ndarray:
    """Phase fractions ED → ES of a half sequence (first 0, last 1).

    Args:
        mode: "short" (``intermediate_frames + 2`` frames, evenly spaced in ``f``) or "realistic"
            (the systole sampled at the frame rate: ``round(T_s·fps) + 1`` frames, clipped to 10–30).
    """
    if mode == "short":
        return np.linspace(0.0, 1.0, intermediate_frames + 2)
    if mode != "realistic":
        raise ValueError(f"sequence_frames must be one of {SEQUENCE_FRAMES}, got {mode!r}")
    n = int(np.clip(round(systole_s(rhythm.rr_s) * rhythm.frame_rate) + 1, *HALF_SEQUENCE_RANGE))
    return 0.5 * (1.0 - np.cos(np.pi * np.linspace(0.0, 1.0, n)))


def _diastole_fraction(x: np.ndarray) -> np.ndarray:
    """Phase fraction during diastole at ``x`` = time / diastole duration in [0, 1] (1 → 0)."""
    rapid = 0.75 * 0.5 * (1 - np.cos(np.pi * np.clip(x / 0.35, 0, 1)))
    diastasis = 0.05 * np.clip((x - 0.35) / 0.45, 0, 1)
    atrial = 0.20 * 0.5 * (1 - np.cos(np.pi * np.clip((x - 0.8) / 0.2, 0, 1)))
    return 1.0 - (rapid + diastasis + atrial)


@dataclass(frozen=True)
class Cine:
    """Frames of a cine of several beats: phase fraction per frame and the true ED/ES frames (0-based)."""

    fractions: np.ndarray  # (T,) in [0, 1]
    times_s: np.ndarray  # (T,)
    ed_frames: tuple[int, ...]
    es_frames: tuple[int, ...]
    rr_s: tuple[float, ...]


def cine(rhythm: Rhythm, beats: int) -> Cine:
    """A cine of ``beats`` full cycles: from the diastole before the first ED to 0.1 s after the last ED.

    Each beat's RR is ``rr·(1 + jitter)``; ED (largest LV) and ES (smallest) frames are the frames of
    extreme phase fraction in each beat (the CAMUS definition applied to the analytic volume curve).
    """
    if not 1 <= beats <= len(rhythm.beat_jitter):
        raise ValueError(f"cycles must be in 1..{len(rhythm.beat_jitter)}, got {beats}")
    rr = [rhythm.rr_s * (1.0 + j) for j in rhythm.beat_jitter[:beats]]
    lead = rhythm.lead_in * (rr[0] - systole_s(rr[0]))
    starts = lead + np.concatenate([[0.0], np.cumsum(rr)])  # ED instants; the last ends the cine
    total = starts[-1] + 0.1
    times = np.arange(int(total * rhythm.frame_rate)) / rhythm.frame_rate
    frac = _diastole_fraction(1.0 - (lead - times) / (rr[0] - systole_s(rr[0])))  # before the first ED
    for k in range(beats + 1):
        beat_rr = rr[min(k, beats - 1)]
        ts = systole_s(beat_rr)
        t = times - starts[k]
        sys = (t >= 0) & (t < ts)
        dia = (t >= ts) & (t < beat_rr) if k < beats else (t >= ts)
        frac = np.where(sys, 0.5 * (1 - np.cos(np.pi * t / ts)), frac)
        frac = np.where(dia, _diastole_fraction((t - ts) / (beat_rr - ts)), frac)
    ed = []
    for k, start in enumerate(starts):  # every ED instant, the last one included
        near = np.flatnonzero(np.abs(times - start) < 0.25 * rr[min(k, beats - 1)])
        if near.size:
            ed.append(int(near[np.argmin(frac[near])]))
    es = []
    for k in range(beats):
        beat = np.flatnonzero((times >= starts[k]) & (times < starts[k + 1]))
        es.append(int(beat[np.argmax(frac[beat])]))
    return Cine(np.clip(frac, 0.0, 1.0), times, tuple(ed), tuple(es), tuple(rr))
