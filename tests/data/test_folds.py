"""Stratified folds: disjoint, covering, balanced, deterministic; published lists."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest

from lunet.data.camus import CamusFormatError
from lunet.data.folds import make_folds, read_fold_lists, stratum, write_fold_lists


@dataclass(frozen=True)
class P:
    patient_id: str
    image_quality: str
    ef_percent: float | None


def cohort(n: int = 137) -> list[P]:
    qualities = ["Good"] * 5 + ["Medium"] * 4 + ["Poor"]
    efs = [30.0, 50.0, 60.0, 62.0, 70.0, 44.0, None]
    return [P(f"patient{i:04d}", qualities[i * 7 % 10], efs[i * 3 % 7]) for i in range(1, n + 1)]


def test_folds_are_disjoint_cover_everyone_and_are_balanced():
    patients = cohort()
    folds = make_folds(patients, n_folds=10, seed=0)
    assert len(folds) == 10
    everyone = {p.patient_id for p in patients}
    tests = [set(f.test) for f in folds]
    assert set().union(*tests) == everyone and sum(map(len, tests)) == len(everyone)
    for k, fold in enumerate(folds):
        assert fold.index == k
        assert set(fold.train) | set(fold.val) | set(fold.test) == everyone
        assert not (
            set(fold.train) & set(fold.val)
            or set(fold.train) & set(fold.test)
            or set(fold.val) & set(fold.test)
        )
        assert fold.val == folds[(k + 1) % 10].test
    assert max(map(len, tests)) - min(map(len, tests)) <= 1
    strata = {p.patient_id: stratum(p) for p in patients}
    for key in set(strata.values()):
        per_group = [sum(strata[pid] == key for pid in group) for group in tests]
        assert max(per_group) - min(per_group) <= 1, key


def test_folds_are_deterministic_and_depend_on_the_seed():
    patients = cohort(60)
    assert make_folds(patients, 5, seed=3) == make_folds(list(reversed(patients)), 5, seed=3)
    assert make_folds(patients, 5, seed=3) != make_folds(patients, 5, seed=4)


def test_bad_fold_arguments():
    with pytest.raises(ValueError, match="n_folds must be ≥ 3"):
        make_folds(cohort(10), n_folds=2)
    with pytest.raises(ValueError, match="4 patients cannot fill 10 folds"):
        make_folds(cohort(4), n_folds=10)


def test_write_then_read_fold_lists(tmp_path):
    folds = make_folds(cohort(30), n_folds=3, seed=1)
    write_fold_lists(folds, tmp_path)
    assert (tmp_path / "subGroup1_testing.txt").read_text().splitlines() == folds[0].test
    assert read_fold_lists(tmp_path) == folds


def test_read_published_lists_with_plain_and_decorated_lines(tmp_path):
    for k in (1, 2, 10):
        (tmp_path / f"subGroup{k}_testing.txt").write_text(f"patient{k:04d}\n\n")
        (tmp_path / f"subGroup{k}_validation.txt").write_text(f"patient{k + 20:04d}\r\n")
        (tmp_path / f"subGroup{k}_training.txt").write_text(f"data/patient{k + 40:04d}.nii.gz\npatient0099\n")
    folds = read_fold_lists(tmp_path)
    assert [f.test for f in folds] == [["patient0001"], ["patient0002"], ["patient0010"]]
    assert folds[2].train == ["patient0050", "patient0099"] and folds[0].val == ["patient0021"]


def test_read_nifti_release_database_split(nifti_root):
    (fold,) = read_fold_lists(nifti_root)
    assert (fold.train, fold.val, fold.test) == (["patient0001"], ["patient0002"], ["patient0003"])


def test_bad_fold_lists(tmp_path):
    with pytest.raises(CamusFormatError, match="no fold lists"):
        read_fold_lists(tmp_path)
    (tmp_path / "subGroup1_training.txt").write_text("patient0001\nhello\n")
    (tmp_path / "subGroup1_testing.txt").write_text("patient0002\n")
    with pytest.raises(CamusFormatError, match=r"subGroup1_training\.txt: line 2 holds no patient id"):
        read_fold_lists(tmp_path)
    (tmp_path / "subGroup1_training.txt").write_text("patient0002\n")
    with pytest.raises(CamusFormatError, match="in training and test/val"):
        read_fold_lists(tmp_path)
    (tmp_path / "subGroup1_testing.txt").unlink()
    with pytest.raises(CamusFormatError, match=r"subGroup1_testing\.txt is missing"):
        read_fold_lists(tmp_path)


def test_folds_of_real_records(nifti_root):
    from lunet.data.camus import scan_camus

    folds = make_folds(scan_camus(nifti_root).patients, n_folds=3)
    assert sorted(pid for f in folds for pid in f.test) == ["patient0001", "patient0002", "patient0003"]
    assert Counter(len(f.test) for f in folds) == {1: 3}
