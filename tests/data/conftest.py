"""Fixtures of tiny CAMUS datasets (builders in camus_fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from camus_fixtures import mhd_release, nifti_release


@pytest.fixture
def nifti_root(tmp_path: Path) -> Path:
    return nifti_release(tmp_path / "camus_nifti")


@pytest.fixture
def mhd_root(tmp_path: Path) -> Path:
    return mhd_release(tmp_path / "camus_2019")
