"""Cross-validation folds of the CAMUS protocol, stratified on image quality × EF category.

Construction (:func:`make_folds`): patients are grouped into strata (worst view quality Good/Medium/Poor ×
EF ``<=45`` / ``45-55`` / ``>=55`` / ``unknown``). Strata are visited in a fixed order; inside each, the
patients are shuffled by ``numpy.random.default_rng(seed)`` and dealt round-robin into ``n_folds`` groups,
the dealing continuing where the previous stratum stopped. Every stratum is thus spread over the groups
within ±1 patient, and the group sizes differ by at most 1. Fold ``k`` tests on group ``k``, validates on
group ``(k + 1) mod n_folds`` and trains on the others.

Published lists: ``subGroup{k}_{training,validation,testing}.txt`` (one fold per ``k``), or the NIfTI
release's ``database_split/subgroup_{training,validation,testing}.txt`` (one fold). One patient id per line.

The official folds: the 10 lists the CAMUS authors distribute (400 training / 50 validation / 50 testing
patients of the 500-patient training set, each patient tested once) ship inside the package
(``lunet/data/camus_folds/``, with their source and licence note). :func:`choose_folds` is the one rule for
which folds a run uses: published lists given by the user; else stratified folds when asked
(``generated=True``), on the phantom and on any other data; else, on the CAMUS training set
(exactly ``patient0001``–``patient0500``), the official folds.
"""

from __future__ import annotations

import logging
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

import numpy as np

from lunet.data.camus_errors import CamusFormatError
from lunet.data.camus_records import ef_category
from lunet.io import write_text_atomic

logger = logging.getLogger(__name__)

_SPLITS = {"training": "train", "validation": "val", "testing": "test"}
_PID = re.compile(r"patient\d{4}", re.IGNORECASE)
_FOLD_FILE = re.compile(r"^subgroup(\d*)_(training|validation|testing)\.txt$", re.IGNORECASE)
_QUALITY_ORDER = {"Good": 0, "Medium": 1, "Poor": 2}
_EF_ORDER = {"<=45": 0, "45-55": 1, ">=55": 2, "unknown": 3}

#: Package folder of the official CAMUS folds (``subGroup{1..10}_{training,validation,testing}.txt``).
OFFICIAL_FOLDS_DIR = "camus_folds"
#: The CAMUS training set the official folds partition: ``patient0001`` … ``patient0500``.
CAMUS_TRAINING_IDS = frozenset(f"patient{i:04d}" for i in range(1, 501))


class StratifiedPatient(Protocol):
    """What the folds read of a patient (a ``PatientRecord``, or a :class:`FoldPatient`)."""

    @property
    def patient_id(self) -> str: ...

    @property
    def image_quality(self) -> str: ...

    @property
    def ef_percent(self) -> float | None: ...


@dataclass(frozen=True)
class FoldPatient:
    """A patient for the folds where no ``PatientRecord`` is at hand (training reads them from the cache's
    index)."""

    patient_id: str
    image_quality: str  # worst view: "Good" | "Medium" | "Poor"
    ef_percent: float | None


@dataclass(frozen=True)
class Fold:
    """One cross-validation fold: patient ids of its training, validation and test sets (sorted)."""

    index: int
    train: list[str]
    val: list[str]
    test: list[str]


def stratum(patient: StratifiedPatient) -> tuple[str, str]:
    """``(image_quality, ef_category)`` of a record with ``image_quality`` and ``ef_percent``."""
    return str(patient.image_quality), ef_category(patient.ef_percent)


def assign_groups(strata: dict[str, tuple[str, str]], n_groups: int, seed: int = 0) -> list[list[str]]:
    """Deal patient ids into ``n_groups`` stratified groups (module docstring); ids sorted per group."""
    by_stratum: dict[tuple[str, str], list[str]] = defaultdict(list)
    for pid in sorted(strata):
        by_stratum[strata[pid]].append(pid)
    rng = np.random.default_rng(seed)
    groups: list[list[str]] = [[] for _ in range(n_groups)]
    slot = 0
    order = sorted(by_stratum, key=lambda s: (_QUALITY_ORDER.get(s[0], 9), _EF_ORDER.get(s[1], 9), s))
    for key in order:
        members = by_stratum[key]
        for i in rng.permutation(len(members)):
            groups[slot % n_groups].append(members[i])
            slot += 1
    return [sorted(group) for group in groups]


def make_folds(patients: Sequence[StratifiedPatient], n_folds: int = 10, seed: int = 0) -> list[Fold]:
    """Stratified folds, deterministic from ``seed``.

    Args:
        patients: records with ``patient_id``, ``image_quality`` and ``ef_percent`` (e.g. ``PatientRecord``).
        n_folds: number of folds (≥ 3, ≤ number of patients).
        seed: shuffling seed.

    Returns:
        ``n_folds`` folds; the test sets partition the patients.
    """
    if n_folds < 3:
        raise ValueError(
            f"make_folds: n_folds must be ≥ 3 (test, validation and training groups), got {n_folds}"
        )
    strata = {p.patient_id: stratum(p) for p in patients}
    if len(strata) != len(patients):
        raise ValueError("make_folds: duplicate patient ids")
    if len(strata) < n_folds:
        raise ValueError(f"make_folds: {len(strata)} patients cannot fill {n_folds} folds")
    groups = assign_groups(strata, n_folds, seed)
    folds = []
    for k in range(n_folds):
        val_k = (k + 1) % n_folds
        train = sorted(pid for j, group in enumerate(groups) if j not in (k, val_k) for pid in group)
        folds.append(Fold(k, train, list(groups[val_k]), list(groups[k])))
    return folds


def _read_ids(path: Path) -> list[str]:
    ids = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        match = _PID.search(text)
        if match is None:
            raise CamusFormatError(f"{path}: line {number} holds no patient id (patientXXXX): {text[:60]!r}")
        ids.append(match.group(0).lower())
    return ids


def read_fold_lists(directory: str | os.PathLike[str]) -> list[Fold]:
    """Read published fold lists from ``directory`` (or from its ``database_split`` sub-folder).

    Raises:
        CamusFormatError: no list files, a fold without its testing list, or a line without a patient id.
    """
    directory = Path(directory)
    if not (directory.is_dir()):
        raise CamusFormatError(f"{directory}: fold-list folder not found")
    if (directory / "database_split").is_dir() and not any(
        _FOLD_FILE.match(p.name) for p in directory.iterdir()
    ):
        directory = directory / "database_split"
    found: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for path in sorted(directory.iterdir()):
        match = _FOLD_FILE.match(path.name)
        if match:
            found[match.group(1)][_SPLITS[match.group(2).lower()]] = _read_ids(path)
    if not found:
        raise CamusFormatError(
            f"{directory}: no fold lists (expected subGroup<k>_{{training,validation,testing}}.txt "
            f"or subgroup_{{training,validation,testing}}.txt)"
        )
    folds = []
    for position, key in enumerate(sorted(found, key=lambda k: int(k) if k else -1)):
        sets = found[key]
        if "test" not in sets:
            raise CamusFormatError(f"{directory}: subGroup{key}_testing.txt is missing")
        overlap = set(sets.get("train", ())) & (set(sets["test"]) | set(sets.get("val", ())))
        if overlap:
            raise CamusFormatError(
                f"{directory}: fold {key or 0} lists {sorted(overlap)[:3]} in training and test/val"
            )
        folds.append(
            Fold(position, sorted(sets.get("train", [])), sorted(sets.get("val", [])), sorted(sets["test"]))
        )
    return folds


def write_fold_lists(folds: Sequence[Fold], directory: str | os.PathLike[str]) -> Path:
    """Write ``subGroup{k+1}_{training,validation,testing}.txt`` (k from 0) atomically; returns the folder."""
    directory = Path(directory)
    for fold in folds:
        for split, attr in _SPLITS.items():
            ids = getattr(fold, attr)
            write_text_atomic(
                directory / f"subGroup{fold.index + 1}_{split}.txt", "".join(f"{i}\n" for i in ids)
            )
    return directory


def official_folds_dir() -> Path:
    """Folder of the official CAMUS fold lists shipped with the package (``lunet/data/camus_folds``)."""
    folder = resources.files("lunet.data").joinpath(OFFICIAL_FOLDS_DIR)
    return Path(str(folder))


def official_folds() -> list[Fold]:
    """The 10 official CAMUS folds (index 0..9 = ``subGroup1`` … ``subGroup10``), 400/50/50 patients each."""
    return read_fold_lists(official_folds_dir())


def is_camus_training_set(patient_ids: Iterable[str]) -> bool:
    """True when the ids are exactly the CAMUS training set ``patient0001`` … ``patient0500``."""
    return {pid.lower() for pid in patient_ids} == CAMUS_TRAINING_IDS


def choose_folds(
    patients: Sequence[StratifiedPatient],
    *,
    folds_dir: str | os.PathLike[str] | None = None,
    generated: bool = False,
    synthetic: bool = False,
    n_folds: int = 10,
    seed: int = 0,
) -> tuple[list[Fold], str]:
    """The folds of a run and where they come from (the rule of the module docstring).

    Args:
        patients: records with ``patient_id``, ``image_quality`` and ``ef_percent`` (the annotated patients).
        folds_dir: folder of published lists chosen by the user (wins over everything else).
        generated: make stratified folds even on the CAMUS training set.
        synthetic: the data is the phantom, which keeps its own stratified folds.
        n_folds: number of stratified folds; the official folds are 10.
        seed: seed of the stratified folds.

    Returns:
        ``(folds, source)`` with ``source`` one of ``"lists:<folder>"``, ``"official"``, ``"generated"``.

    Raises:
        ValueError: the official folds would apply but ``n_folds`` is not 10.
    """
    if folds_dir:
        return read_fold_lists(folds_dir), f"lists:{folds_dir}"
    ids = [p.patient_id for p in patients]
    if not generated and not synthetic and is_camus_training_set(ids):
        if n_folds != 10:
            raise ValueError(
                f"the CAMUS training set uses the 10 official folds; n_folds={n_folds} needs generated "
                "folds (--generated)"
            )
        logger.info("CAMUS training set: the 10 official CAMUS folds (lunet/data/camus_folds)")
        return official_folds(), "official"
    found = {pid.lower() for pid in ids} & CAMUS_TRAINING_IDS
    if not generated and not synthetic and len(found) == len(ids) and len(found) >= 50:
        logger.warning(
            "%d of the 500 CAMUS training patients found; the official folds need all of them, so these "
            "folds are generated (not comparable with the papers fold by fold)",
            len(found),
        )
    return make_folds(patients, n_folds, seed), "generated"


def is_phantom_root(root: str | os.PathLike[str]) -> bool:
    """True when a dataset folder is the synthetic phantom (a ``phantom_truth.json`` in a patient folder)."""
    root = Path(root)
    patterns = ("*/phantom_truth.json", "*/*/phantom_truth.json")
    return any(next(root.glob(pattern), None) is not None for pattern in patterns)
