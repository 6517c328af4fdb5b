"""The memory-mapped training cache: round trip, reuse, rebuild on change, incomplete caches."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from camus_fixtures import SPACING, label_map

from lunet.boxes import reference_box
from lunet.data.cache import CachedImages, build_cache
from lunet.data.camus import CamusFormatError, scan_camus
from lunet.data.preprocess import prepare_image, resize_label


def test_cache_round_trip(mhd_root, tmp_path):
    cache = build_cache(mhd_root, tmp_path / "cache", size=32, workers=1)
    data = CachedImages(cache)
    assert len(data) == 12 and data.size == 32
    assert data.images.shape == (12, 32, 32) and data.images.dtype == np.float32
    assert data.labels.shape == (12, 32, 32) and data.labels.dtype == np.uint8
    assert isinstance(data.images, np.memmap)
    assert [(e["patient_id"], e["view"], e["instant"]) for e in data.index[:4]] == [
        ("patient0001", "2CH", "ED"), ("patient0001", "2CH", "ES"), ("patient0001", "4CH", "ED"),
        ("patient0001", "4CH", "ES"),
    ]  # fmt: skip
    entry = data.index[1]
    assert entry["quality"] == "Good" and entry["ef_percent"] == 50.0 and entry["has_gt"] is True
    echo = scan_camus(mhd_root).patients[0].load("2CH", "ES")
    expected, spacing = prepare_image(echo.image, echo.spacing, 32)
    item = data[1]
    np.testing.assert_array_equal(item.image, expected)
    label, _ = resize_label(label_map(7), SPACING, 32)
    np.testing.assert_array_equal(item.label, label)
    np.testing.assert_allclose(item.spacing, spacing)
    np.testing.assert_allclose(item.spacing, (0.308 * 64 / 32, 0.154 * 48 / 32), rtol=1e-6)
    np.testing.assert_allclose(data.original_spacing[1], SPACING, rtol=1e-6)
    np.testing.assert_array_equal(data.original_shape[1], (64, 48))
    np.testing.assert_allclose(item.box0, reference_box(label, 0.0))
    # patient0003 (testing/) has no labels: zeros and NaN boxes
    rows = data.indices_for(["patient0003"])
    np.testing.assert_array_equal(rows, [8, 9, 10, 11])
    assert not data.index[8]["has_gt"] and np.isnan(data.box0[8]).all() and data.labels[8].max() == 0


def test_cache_is_reused_then_rebuilt_when_a_source_changes(nifti_root, tmp_path):
    cache = build_cache(nifti_root, tmp_path / "c", size=16, workers=1)
    marker_time = (cache / "complete.json").stat().st_mtime_ns
    assert build_cache(nifti_root, cache, size=16, workers=1) == cache
    assert (cache / "complete.json").stat().st_mtime_ns == marker_time  # reused
    cfg = nifti_root / "database_nifti" / "patient0001" / "Info_2CH.cfg"
    cfg.write_text(cfg.read_text().replace("ImageQuality: Good", "ImageQuality: Poor"))
    os.utime(cfg, ns=(marker_time + 10**9, marker_time + 10**9))
    build_cache(nifti_root, cache, size=16, workers=1)
    assert CachedImages(cache).index[0]["quality"] == "Poor"
    build_cache(nifti_root, cache, size=24, workers=1)
    assert CachedImages(cache).images.shape == (12, 24, 24)


def test_incomplete_cache_is_refused_and_rebuilt(nifti_root, tmp_path):
    cache = build_cache(nifti_root, tmp_path / "c", size=16, workers=1)
    (cache / "complete.json").unlink()
    with pytest.raises(CamusFormatError, match="no complete lunet cache"):
        CachedImages(cache)
    build_cache(nifti_root, cache, size=16, workers=1)
    assert len(CachedImages(cache)) == 12
    assert json.loads((cache / "complete.json").read_text())["count"] == 12


def test_unreadable_patient_is_skipped_and_listed(nifti_root, tmp_path):
    path = nifti_root / "database_nifti" / "patient0002" / "patient0002_4CH_ES.nii.gz"
    path.write_bytes(path.read_bytes()[:50])
    cache = build_cache(nifti_root, tmp_path / "c", size=16, workers=1)
    data = CachedImages(cache)
    assert len(data) == 8 and {e["patient_id"] for e in data.index} == {"patient0001", "patient0003"}
    assert data.meta["skipped"][0]["patient_id"] == "patient0002"
    assert "patient0002_4CH_ES.nii.gz" in data.meta["skipped"][0]["reason"]


def test_parallel_build_matches_serial(nifti_root, tmp_path):
    serial = CachedImages(build_cache(nifti_root, tmp_path / "s", size=16, workers=1))
    parallel = CachedImages(build_cache(nifti_root, tmp_path / "p", size=16, workers=2))
    np.testing.assert_array_equal(serial.images, parallel.images)
    assert serial.index == parallel.index


def test_pickling_keeps_only_the_folder(nifti_root, tmp_path):
    import pickle

    data = CachedImages(build_cache(nifti_root, tmp_path / "c", size=64, workers=1))
    blob = pickle.dumps(data)
    assert len(blob) < 1000  # not the 12 x 64 x 64 float32 images
    copy = pickle.loads(blob)
    np.testing.assert_array_equal(copy[5].image, data[5].image)


def test_the_crop_source_is_stored_only_when_asked_and_the_key_says_so(nifti_root, tmp_path):
    """A cache for a model that does not crop leaves out the 2S arrays; one with them serves it too."""
    from lunet.data.cache import cache_fingerprint

    lean = build_cache(nifti_root, tmp_path / "lean", size=16, workers=1, crop_source=False)
    data = CachedImages(lean)
    assert data.source_images is None and data.source_labels is None and len(data) == 12
    assert not (lean / "source_images.npy").exists() and not (lean / "source_labels.npy").exists()
    with pytest.raises(CamusFormatError, match="does not crop"):
        data.require_source()
    patients = scan_camus(nifti_root).patients
    key = json.loads((lean / "complete.json").read_text())["key"]
    assert key == cache_fingerprint(patients, 16, crop_source=False) != cache_fingerprint(patients, 16)
    assert json.loads((lean / "index.json").read_text())["crop_source"] is False
    full = build_cache(nifti_root, tmp_path / "full", size=16, workers=1)
    np.testing.assert_array_equal(CachedImages(full).images, data.images)  # the S×S arrays are the same
    assert "crop_source" not in json.loads((full / "index.json").read_text())  # the format as before
    # a model that crops needs the source: the lean cache is rebuilt in place, with it
    build_cache(nifti_root, lean, size=16, workers=1)
    assert CachedImages(lean).source_images.shape == (12, 32, 32)
    # a model that does not crop reuses a cache with the source (built before this option too)
    stamp = (lean / "complete.json").stat().st_mtime_ns
    assert build_cache(nifti_root, lean, size=16, workers=1, crop_source=False) == lean
    assert (lean / "complete.json").stat().st_mtime_ns == stamp
    # the other way round, a rebuild without the source removes the old source arrays
    build_cache(nifti_root, full, size=24, workers=1, crop_source=False)
    assert not (full / "source_images.npy").exists() and CachedImages(full).images.shape == (12, 24, 24)
