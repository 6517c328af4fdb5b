"""Annotation variability: reference contours displaced the way two experts' contours differ.

A smooth random displacement field of the in-plane coordinates (a sum of random plane waves with
wavelengths 25–60 mm) moves every boundary of the label map by a few mm, coherently along the contour,
as one observer's tracing differs from another's (CAMUS: inter-observer d_m ≈ 1–2 mm). It only changes
the written reference masks; the analytic volumes of ``phantom_truth.json`` stay the truth for EF.
The field has its own random stream, so switching it on leaves the images unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MODES = 6


@dataclass(frozen=True)
class ContourJitter:
    """Displacement field ``(du, dw)(u, w) = Σ_k a_k·(cos θ_k, sin θ_k)·sin(k_k·(u, w) + φ_k)`` (mm)."""

    wave_u: np.ndarray  # (M,) wave vector components (rad/mm)
    wave_w: np.ndarray
    phase: np.ndarray  # (M,)
    amp_u: np.ndarray  # (M,) displacement amplitudes (mm)
    amp_w: np.ndarray

    @property
    def max_mm(self) -> float:
        """Upper bound of the displacement (mm)."""
        return float(np.sum(np.hypot(self.amp_u, self.amp_w)))

    def displace(self, u: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Displaced coordinates ``(u + du, w + dw)`` (mm), same shapes as ``u``, ``w``."""
        du, dw = np.zeros_like(u), np.zeros_like(w)
        for k in range(self.phase.size):
            s = np.sin(self.wave_u[k] * u + self.wave_w[k] * w + self.phase[k])
            du += self.amp_u[k] * s
            dw += self.amp_w[k] * s
        return u + du, w + dw

    def blend(self, other: ContourJitter, fraction: float) -> ContourJitter:
        """The field ``(1 − fraction)·self + fraction·other`` (frames between two annotated instants)."""
        a, b = 1.0 - fraction, fraction
        cat = np.concatenate
        return ContourJitter(cat([self.wave_u, other.wave_u]), cat([self.wave_w, other.wave_w]),
                             cat([self.phase, other.phase]), cat([a * self.amp_u, b * other.amp_u]),
                             cat([a * self.amp_w, b * other.amp_w]))  # fmt: skip


def sample_jitter(rng: np.random.Generator, sd_mm: float) -> ContourJitter:
    """A displacement field whose components have standard deviation ``sd_mm`` (mm) over the plane.

    The mean boundary displacement (d_m against the analytic contour) is then ≈ 0.8·``sd_mm``.
    """
    if sd_mm < 0:
        raise ValueError(f"annotation_sd_mm must be ≥ 0, got {sd_mm}")
    wavelength = rng.uniform(25.0, 60.0, MODES)
    direction = rng.uniform(0, 2 * np.pi, MODES)
    k = 2 * np.pi / wavelength
    polar = rng.uniform(0, 2 * np.pi, MODES)
    amp = sd_mm * np.sqrt(2.0 / MODES)  # each sine has variance amp²/2 → total variance sd² per component
    return ContourJitter(
        k * np.cos(direction), k * np.sin(direction), rng.uniform(0, 2 * np.pi, MODES),
        amp * np.cos(polar) * np.sqrt(2), amp * np.sin(polar) * np.sqrt(2),
    )  # fmt: skip


def jitter_rng(index: int, seed: int) -> np.random.Generator:
    """The annotation-variability stream of patient ``index`` (separate from the image stream)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index), 0xA770]))
