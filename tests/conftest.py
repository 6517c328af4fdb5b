"""Suite-wide settings: in CI (CI=true) hypothesis runs derandomized, so a CI run is reproducible; fixtures
shared by several areas' tests."""

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
    settings.load_profile("ci")


@contextlib.contextmanager
def _as_pre_atrium_bundle(run: Path) -> Iterator[Path]:
    """The run's ``model.json`` rewritten as a bundle from before the LA (no ``labels``, loss on LV and MYO),
    put back as trained on exit (the same weights)."""
    meta_path = run / "model.json"
    original = meta_path.read_text()
    meta = json.loads(original)
    del meta["labels"]
    meta["config"]["loss"]["dice_classes"] = [1, 2]
    meta_path.write_text(json.dumps(meta))
    try:
        yield run
    finally:
        meta_path.write_text(original)


@pytest.fixture
def as_pre_atrium_bundle() -> Callable[[Path], contextlib.AbstractContextManager[Path]]:
    """``with as_pre_atrium_bundle(run): ...``: an LA-trained run seen as an old bundle for the block."""
    return _as_pre_atrium_bundle
