"""Write phantom patients in the CAMUS on-disk layouts (NIfTI release or 2019 ``.mhd/.raw`` release).

NIfTI: ``database_nifti/patientXXXX/patientXXXX_{2CH,4CH}_{ED,ES}[_gt].nii.gz``,
``..._half_sequence[_gt].nii.gz``, ``Info_{2CH,4CH}.cfg``; splits in ``database_split/``.
2019: ``training/patientXXXX/patientXXXX_{2CH,4CH}_{ED,ES}[_gt].mhd`` (+ ``.raw``, frames stored 3-D
with one slice), ``..._sequence.mhd``, ``Info_*.cfg``. Both add ``phantom_truth.json`` per patient and, when
cycles were requested, ``..._cine[_gt]`` (several beats; not a CAMUS file, ignored by the CAMUS reader).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lunet.data.labels import Instant
from lunet.data.synthetic.patient import PatientRender, ViewRender
from lunet.io import atomic_path, write_text_atomic

logger = logging.getLogger(__name__)

FORMATS = ("nifti", "mhd")
TRUTH_FILE = "phantom_truth.json"
SPLITS = ("training", "validation", "testing")


def _sitk_write_image(path: str | os.PathLike[str], array: np.ndarray, spacing: tuple[float, float]) -> Path:
    """Minimal SimpleITK writer (used only if ``lunet.data.camus.write_image`` is unavailable)."""
    import SimpleITK as sitk

    path = Path(path)
    volume = array[None] if (array.ndim == 2 and path.suffix == ".mhd") else array
    image = sitk.GetImageFromArray(np.ascontiguousarray(volume))
    row_mm, col_mm = (float(s) for s in spacing)  # SimpleITK spacing is (x = col, y = row)
    image.SetSpacing((col_mm, row_mm) if volume.ndim == 2 else (col_mm, row_mm, 1.0))
    with atomic_path(path) as tmp:
        sitk.WriteImage(image, str(tmp), useCompression=path.name.endswith(".gz"))
    return path


def image_writer() -> Callable[[str | os.PathLike[str], np.ndarray, tuple[float, float]], Path]:
    """``lunet.data.camus.write_image`` (the loader's own convention), else the local fallback."""
    try:
        from lunet.data.camus import write_image
    except ImportError:  # pragma: no cover - the data area is always present in the package
        logger.debug("lunet.data.camus.write_image unavailable; using the SimpleITK fallback")
        return _sitk_write_image
    return write_image


def info_cfg_text(patient: PatientRender, vr: ViewRender) -> str:
    """``Info_{view}.cfg`` with both key sets (``EF``/``FrameRate`` and ``LVedv``/``LVesv``/``LVef``)."""
    n = vr.frames.shape[0]
    ed, es = (n, 1) if vr.reversed_on_disk else (1, n)
    heart = patient.heart
    lines = [
        f"ED: {ed}",
        f"ES: {es}",
        f"NbFrame: {n}",
        f"Sex: {patient.sex}",
        f"Age: {patient.age}",
        f"ImageQuality: {vr.quality}",
        f"EF: {heart.ef_percent:.2f}",
        f"FrameRate: {patient.frame_rate:.1f}",
        f"LVedv: {heart.edv_ml:.2f}",
        f"LVesv: {heart.esv_ml:.2f}",
        f"LVef: {heart.ef_percent:.2f}",
    ]
    return "\n".join(lines) + "\n"


def patient_dir(out: Path, patient_id: str, fmt: str) -> Path:
    """Folder of one patient in layout ``fmt``."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    return out / ("database_nifti" if fmt == "nifti" else "training") / patient_id


def write_patient(out: str | os.PathLike[str], patient: PatientRender, fmt: str = "nifti") -> Path:
    """Write one patient's images, labels, sequences, ``Info_*.cfg`` and truth; returns its folder."""
    folder = patient_dir(Path(out), patient.patient_id, fmt)
    folder.mkdir(parents=True, exist_ok=True)
    write = image_writer()
    ext = ".nii.gz" if fmt == "nifti" else ".mhd"
    pid = patient.patient_id
    for view, vr in patient.views.items():
        stem = f"{pid}_{view.value}"
        for inst in Instant:
            write(folder / f"{stem}_{inst.value}{ext}", vr.image(inst), vr.spacing)
            write(folder / f"{stem}_{inst.value}_gt{ext}", vr.label(inst), vr.spacing)
        frames, labels = (
            (vr.frames[::-1], vr.frame_labels[::-1]) if vr.reversed_on_disk else (vr.frames, vr.frame_labels)
        )
        if fmt == "nifti":
            write(folder / f"{stem}_half_sequence{ext}", frames, vr.spacing)
            write(folder / f"{stem}_half_sequence_gt{ext}", labels, vr.spacing)
        else:
            write(folder / f"{stem}_sequence{ext}", frames, vr.spacing)
        if vr.cine_frames is not None:  # several beats in time order; true ED/ES frames in the truth file
            write(folder / f"{stem}_cine{ext}", vr.cine_frames, vr.spacing)
            write(folder / f"{stem}_cine_gt{ext}", vr.cine_labels, vr.spacing)
        write_text_atomic(folder / f"Info_{view.value}.cfg", info_cfg_text(patient, vr))
    write_text_atomic(folder / TRUTH_FILE, json.dumps(patient.truth, indent=1, sort_keys=True) + "\n")
    return folder


def split_patients(
    patient_ids: list[str], seed: int, fractions: tuple[float, float] = (0.8, 0.1)
) -> dict[str, list[str]]:
    """Deterministic training/validation/testing split (≈80/10/10 %, at least one each when N ≥ 3)."""
    n = len(patient_ids)
    order = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5EED])).permutation(n)
    n_val = max(1, round(fractions[1] * n)) if n >= 3 else 0
    n_test = max(1, n - math.floor(fractions[0] * n) - n_val) if n >= 3 else 0
    n_train = n - n_val - n_test
    parts = {
        "training": order[:n_train],
        "validation": order[n_train : n_train + n_val],
        "testing": order[n_train + n_val :],
    }
    return {k: sorted(patient_ids[i] for i in v) for k, v in parts.items()}


def write_splits(out: str | os.PathLike[str], splits: dict[str, list[str]]) -> Path:
    """``database_split/subgroup_{training,validation,testing}.txt`` (one patient id per line)."""
    folder = Path(out) / "database_split"
    for name in SPLITS:
        write_text_atomic(folder / f"subgroup_{name}.txt", "".join(f"{pid}\n" for pid in splits[name]))
    return folder
