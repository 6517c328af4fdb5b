"""Dataset readers refuse files beyond the size limits from the header; a scan skips and names the patient."""

from __future__ import annotations

from hostile_files import nifti_gz_bomb, nifti_gz_liar

from lunet.data.cache import CachedImages, build_cache
from lunet.data.summary import summarize


def test_preprocess_skips_a_patient_with_a_bomb_and_names_it(nifti_root, tmp_path):
    folder = nifti_root / "database_nifti" / "patient0002"
    nifti_gz_bomb(folder / "patient0002_2CH_ED.nii.gz", inflated_mb=20)
    data = CachedImages(build_cache(nifti_root, tmp_path / "c", size=16, workers=1))
    assert {e["patient_id"] for e in data.index} == {"patient0001", "patient0003"}
    (skipped,) = data.meta["skipped"]
    assert skipped["patient_id"] == "patient0002"
    assert "patient0002_2CH_ED.nii.gz: holds more data than its header promises" in skipped["reason"]


def test_summary_lists_a_file_beyond_the_limit(nifti_root):
    folder = nifti_root / "database_nifti" / "patient0003"
    nifti_gz_liar(folder / "patient0003_4CH_ES.nii.gz", (6000, 6000), payload=10)
    summary = summarize(nifti_root)
    (line,) = summary["unreadable"]
    assert "patient0003_4CH_ES.nii.gz: 6000 × 6000 pixels per frame" in line and "--max-pixels" in line
