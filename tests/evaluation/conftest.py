"""Fixtures of the evaluation tests; plain helpers live in eval_helpers.py (importable by name)."""

from __future__ import annotations

from pathlib import Path

import pytest
from eval_helpers import SIZES, write_patient


@pytest.fixture
def camus_dir(tmp_path: Path) -> Path:
    """Three patients (Good, Medium, Poor); the first has a phantom_truth.json."""
    root = tmp_path / "camus"
    write_patient(
        root, "patient0001", "Good", SIZES, truth={"edv_ml": 13.0, "esv_ml": 8.0, "ef_percent": 38.0}
    )
    write_patient(root, "patient0002", "Medium", SIZES)
    write_patient(root, "patient0003", "Poor", SIZES)
    return root
