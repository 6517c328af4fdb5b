"""The official CAMUS folds shipped in the package, and the rule that chooses a run's folds."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import pytest

from lunet.data.folds import (
    CAMUS_TRAINING_IDS,
    choose_folds,
    is_camus_training_set,
    is_phantom_root,
    official_folds,
    official_folds_dir,
    write_fold_lists,
)

ROOT = Path(__file__).resolve().parents[2]
SHARED_LISTS = ROOT.parent / "shared" / "data" / "camus-folds"


@dataclass(frozen=True)
class P:
    patient_id: str
    image_quality: str
    ef_percent: float | None


def camus_training_set() -> list[P]:
    qualities = ("Good", "Medium", "Poor")
    return [P(pid, qualities[i % 3], 30.0 + i % 40) for i, pid in enumerate(sorted(CAMUS_TRAINING_IDS))]


def test_official_folds_test_every_patient_once_with_disjoint_sets():
    folds = official_folds()
    assert len(folds) == 10
    assert [f.index for f in folds] == list(range(10))
    tested = [pid for fold in folds for pid in fold.test]
    assert len(tested) == 500 and set(tested) == CAMUS_TRAINING_IDS
    for fold in folds:
        assert (len(fold.train), len(fold.val), len(fold.test)) == (400, 50, 50)
        train, val, test = set(fold.train), set(fold.val), set(fold.test)
        assert not (train & val or train & test or val & test)
        assert train | val | test == CAMUS_TRAINING_IDS


def _ids(path: Path) -> list[str]:
    return sorted(line.strip() for line in path.read_text().splitlines() if line.strip())


def test_official_folds_are_the_shipped_lists():
    folder = official_folds_dir()
    for fold in official_folds():
        for split, ids in (("training", fold.train), ("validation", fold.val), ("testing", fold.test)):
            assert ids == _ids(folder / f"subGroup{fold.index + 1}_{split}.txt")


@pytest.mark.skipif(not SHARED_LISTS.is_dir(), reason="../shared/data/camus-folds not present")
def test_shipped_lists_are_the_published_copies_with_their_licence():
    folder = official_folds_dir()
    published = sorted(p.name for p in SHARED_LISTS.iterdir() if p.name.startswith("subGroup"))
    assert len(published) == 30
    for name in [*published, "LICENSE-source.txt"]:
        assert (folder / name).read_bytes() == (SHARED_LISTS / name).read_bytes(), name


def test_package_data_globs_ship_every_fold_file():
    tomllib = pytest.importorskip("tomllib")  # Python ≥ 3.11
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["lunet.data"]
    files = sorted(p.name for p in official_folds_dir().iterdir())
    assert {"LICENSE-source.txt", "README.md", "subGroup10_testing.txt"} <= set(files)
    for name in files:
        assert any(fnmatch(f"camus_folds/{name}", g) for g in globs), name


@pytest.mark.slow
def test_built_wheel_holds_the_fold_lists(tmp_path):
    source = tmp_path / "src-tree"
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w"]
    subprocess.run([*command, str(tmp_path / "wheel"), str(source)], check=True, timeout=300)
    (wheel,) = (tmp_path / "wheel").glob("lunet-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for k in range(1, 11):
        for split in ("training", "validation", "testing"):
            assert f"lunet/data/camus_folds/subGroup{k}_{split}.txt" in names
    assert "lunet/data/camus_folds/LICENSE-source.txt" in names


def test_camus_training_set_gets_the_official_folds_unless_generated():
    patients = camus_training_set()
    assert is_camus_training_set(p.patient_id.upper() for p in patients)
    folds, source = choose_folds(patients)
    assert source == "official" and folds == official_folds()
    generated, source = choose_folds(patients, generated=True, seed=1)
    assert source == "generated" and generated != folds
    assert sorted(pid for f in generated for pid in f.test) == sorted(CAMUS_TRAINING_IDS)


def test_an_incomplete_camus_training_set_is_warned_about(caplog):
    _, source = choose_folds(camus_training_set()[:450])
    assert source == "generated" and "450 of the 500 CAMUS training patients" in caplog.text


def test_phantom_and_other_data_get_generated_folds(tmp_path):
    folds, source = choose_folds(camus_training_set(), synthetic=True)
    assert source == "generated" and folds != official_folds()
    subset = camus_training_set()[:40]
    assert not is_camus_training_set(p.patient_id for p in subset)
    folds, source = choose_folds(subset, n_folds=4)
    assert source == "generated" and len(folds) == 4


def test_official_folds_need_ten_and_user_lists_win(tmp_path):
    with pytest.raises(ValueError, match="--generated"):
        choose_folds(camus_training_set(), n_folds=5)
    write_fold_lists(official_folds()[:2], tmp_path)
    folds, source = choose_folds(camus_training_set(), folds_dir=tmp_path, n_folds=5)
    assert source == f"lists:{tmp_path}" and folds == official_folds()[:2]


def test_phantom_root_is_recognised(tmp_path):
    (tmp_path / "patient0001").mkdir()
    assert not is_phantom_root(tmp_path)
    (tmp_path / "patient0001" / "phantom_truth.json").write_text("{}")
    assert is_phantom_root(tmp_path)


def test_lunet_folds_writes_the_official_lists_on_camus(tmp_path, monkeypatch, capsys):
    from types import SimpleNamespace

    from lunet.cli import main

    patients = camus_training_set()
    dataset = SimpleNamespace(patients=patients, with_ground_truth=patients)
    monkeypatch.setattr("lunet.data.camus.scan_camus", lambda root: dataset)
    (tmp_path / "camus").mkdir()
    assert main(["folds", str(tmp_path / "camus"), "--out", str(tmp_path / "official")]) == 0
    assert "10 official folds of 500 patients" in capsys.readouterr().out
    for name in ("subGroup1_testing.txt", "subGroup10_training.txt"):
        assert _ids(tmp_path / "official" / name) == _ids(official_folds_dir() / name)
    assert main(["folds", str(tmp_path / "camus"), "--out", str(tmp_path / "gen"), "--generated"]) == 0
    assert "10 generated folds" in capsys.readouterr().out
    assert _ids(tmp_path / "gen" / "subGroup1_testing.txt") != _ids(
        official_folds_dir() / "subGroup1_testing.txt"
    )


def test_training_selects_the_official_fold_on_camus(tmp_path):
    from types import SimpleNamespace

    from lunet.config import TrainConfig
    from lunet.training.fit import select_fold

    index = [
        {"patient_id": p.patient_id, "quality": p.image_quality, "ef_percent": p.ef_percent, "has_gt": True}
        for p in camus_training_set()
        for _ in range(4)
    ]
    cache = SimpleNamespace(index=index)
    (tmp_path / "camus").mkdir()
    config = TrainConfig.create(data=str(tmp_path / "camus"), fold=3)
    fold = select_fold(config, cache, tmp_path / "run")
    assert fold.test == official_folds()[2].test and fold.train == official_folds()[2].train
    assert _ids(tmp_path / "run" / "folds" / "subGroup3_testing.txt") == fold.test
    generated = select_fold(config.replace(generated_folds=True), cache, tmp_path / "run2")
    assert generated.test != fold.test and len(generated.test) == 50
