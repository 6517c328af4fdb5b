"""Helpers of the sequence tests: cines with an analytic LV and a predictor that segments it exactly."""

from __future__ import annotations

import numpy as np

SIZE = 64
SPACING = (0.5, 0.4)


class DarkDiskPredictor:
    """A stand-in for a trained model: LV = the dark pixels of the normalised image (threshold 0.3)."""

    model_name = "dark-disk"
    backend = "test"
    size = SIZE
    meta: dict = {"labels": [0, 1, 2]}  # noqa: RUF012 (read only)

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        dark = batch[:, 0] < 0.3
        logits = np.zeros((batch.shape[0], 4, SIZE, SIZE), dtype=np.float32)
        logits[:, 0] = np.where(dark, -5.0, 5.0)
        logits[:, 1] = np.where(dark, 5.0, -5.0)
        return {"logits": logits}


def half_cycle_radii(n: int = 16, r_ed: float = 22.0, r_es: float = 14.0) -> np.ndarray:
    """Radii (pixels) of the LV disk from ED to ES: a half cosine, largest at frame 0, smallest at the end."""
    t = np.linspace(0.0, 1.0, n)
    return r_es + (r_ed - r_es) * 0.5 * (1.0 + np.cos(np.pi * t))


def disk_cine(radii: np.ndarray, rows: int = SIZE, cols: int = SIZE, seed: int = 0) -> np.ndarray:
    """``(T, rows, cols)`` float32 frames: a dark disk of each radius (pixels) on a bright speckled field."""
    rng = np.random.default_rng(seed)
    rr, cc = np.mgrid[:rows, :cols]
    dist = np.hypot(rr - rows / 2 + 0.5, cc - cols / 2 + 0.5)
    frames = [np.where(dist < r, 20.0, 200.0) + rng.normal(0.0, 5.0, (rows, cols)) for r in radii]
    return np.stack(frames).astype(np.float32)
