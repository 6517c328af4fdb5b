"""Tiny CAMUS fixtures in both releases, written with lunet's own writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lunet.data.camus import write_image

SHAPE = (64, 48)
SPACING = (0.308, 0.154)
NEW_CFG = (
    "ED: {ed}\nES: {es}\nNbFrame: 5\nSex: F\nAge: 61\nImageQuality: {quality}\nEF: {ef}\nFrameRate: 30\n"
)
OLD_CFG = (
    "ED: {ed}\nES: {es}\nNbFrame: 5\nSex: M\nAge: 70\nImageQuality: {quality}\n"
    "LVedv: 120.5\nLVesv: 60.25\nLVef: {ef}\n"
)


def label_map(radius: float, shape: tuple[int, int] = SHAPE) -> np.ndarray:
    """uint8 labels: LV disc (1) of ``radius`` px, myocardium ring (2) 3 px wide, atrium blob (3) below."""
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    dist = np.hypot(rows - 24, cols - 24)
    label = np.zeros(shape, np.uint8)
    label[dist <= radius + 3] = 2
    label[dist <= radius] = 1
    label[(np.hypot(rows - 52, cols - 24) <= 6)] = 3
    return label


def echo_image(label: np.ndarray, seed: int) -> np.ndarray:
    """uint8 image with grey levels following the labels, plus noise."""
    rng = np.random.default_rng(seed)
    grey = np.array([60, 20, 200, 40], np.float64)[label] + rng.normal(0, 8, label.shape)
    return np.clip(grey, 0, 255).astype(np.uint8)


def write_patient(
    folder: Path,
    patient_id: str,
    ext: str,
    gt: bool = True,
    quality: str = "Good",
    ef: float = 60.0,
    cfg: str = "new",
    reverse_sequence: bool = False,
    sequence_name: str = "half_sequence",
    seed: int = 0,
) -> Path:
    """One patient folder: 4 frames (+ labels), 2 sequences of 5 frames, 2 cfg files."""
    folder = folder / patient_id
    folder.mkdir(parents=True, exist_ok=True)
    for v, view in enumerate(("2CH", "4CH")):
        ed_label, es_label = label_map(12 + v), label_map(7 + v)
        ed, es = echo_image(ed_label, seed * 10 + v), echo_image(es_label, seed * 10 + v + 5)
        for instant, image, label in (("ED", ed, ed_label), ("ES", es, es_label)):
            write_image(folder / f"{patient_id}_{view}_{instant}{ext}", image, SPACING)
            if gt:
                write_image(folder / f"{patient_id}_{view}_{instant}_gt{ext}", label, SPACING)
        weights = np.linspace(0.0, 1.0, 5)[:, None, None]
        frames = np.round((1 - weights) * ed + weights * es).astype(np.uint8)
        labels = np.stack([ed_label, ed_label, ed_label, es_label, es_label])
        ed_idx, es_idx = (5, 1) if reverse_sequence else (1, 5)
        if reverse_sequence:
            frames, labels = frames[::-1], labels[::-1]
        write_image(folder / f"{patient_id}_{view}_{sequence_name}{ext}", frames, SPACING)
        if gt and sequence_name == "half_sequence":
            write_image(folder / f"{patient_id}_{view}_{sequence_name}_gt{ext}", labels, SPACING)
        template = NEW_CFG if cfg == "new" else OLD_CFG
        (folder / f"Info_{view}.cfg").write_text(
            template.format(ed=ed_idx, es=es_idx, quality=quality, ef=ef)
        )
    return folder


def nifti_release(root: Path, n: int = 3, **kwargs) -> Path:
    """``root/database_nifti/patient000k`` + ``root/database_split``."""
    qualities, efs = ("Good", "Medium", "Poor"), (60.0, 50.0, 35.0)
    for k in range(1, n + 1):
        write_patient(root / "database_nifti", f"patient{k:04d}", ".nii.gz", quality=qualities[(k - 1) % 3],
                      ef=efs[(k - 1) % 3], cfg="new" if k % 2 else "old", seed=k, **kwargs)  # fmt: skip
    split = root / "database_split"
    split.mkdir(parents=True, exist_ok=True)
    ids = [f"patient{k:04d}" for k in range(1, n + 1)]
    (split / "subgroup_training.txt").write_text("\n".join(ids[:-2]) + "\n")
    (split / "subgroup_validation.txt").write_text(ids[-2] + "\n")
    (split / "subgroup_testing.txt").write_text(ids[-1] + "\n")
    return root


def mhd_release(root: Path, n_train: int = 2, n_test: int = 1) -> Path:
    """``root/training/patient000k`` (with labels, 2019 cfg keys) + ``root/testing`` (no labels)."""
    for k in range(1, n_train + 1):
        write_patient(root / "training", f"patient{k:04d}", ".mhd", cfg="old", ef=40.0 + 10 * k,
                      sequence_name="sequence", seed=k)  # fmt: skip
    for k in range(n_train + 1, n_train + n_test + 1):
        write_patient(
            root / "testing", f"patient{k:04d}", ".mhd", gt=False, cfg="old", sequence_name="sequence", seed=k
        )
    return root
