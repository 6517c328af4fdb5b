"""A tiny phantom dataset shared by the synthetic tests (256×256, 2 patients, one worker)."""

from __future__ import annotations

import pytest

from lunet.data.synthetic.generate import generate_dataset


@pytest.fixture(scope="session")
def phantom_nifti(tmp_path_factory):
    return generate_dataset(tmp_path_factory.mktemp("phantom") / "nifti", 2, size="256", seed=7, workers=1)
