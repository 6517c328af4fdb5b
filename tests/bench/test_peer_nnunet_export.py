"""bench_peer_nnunet's export of lunet's cache as an nnU-Net raw dataset (no nnU-Net needed)."""

from __future__ import annotations

import json

import numpy as np


def test_export_raw_writes_the_cache_frames_with_their_spacing(tmp_path):
    from bench_peer_nnunet import DATASET_NAME, LABELS, export_raw
    from lunet.data.cache import CachedImages, build_cache
    from lunet.data.camus_io import read_image
    from lunet.data.synthetic.generate import generate_dataset

    generate_dataset(tmp_path / "synth", 2, size="256", seed=0, workers=1, progress=False)
    cache = CachedImages(build_cache(tmp_path / "synth", tmp_path / "cache", size=16, workers=1))
    rows = cache.indices_for(["patient0002"])
    cases = export_raw(cache, rows, tmp_path / "raw")
    assert cases == [f"patient0002_{e['view']}_{e['instant']}" for e in (cache.index[r] for r in rows)]
    assert len(cases) == 4
    folder = tmp_path / "raw" / DATASET_NAME
    for row, case in zip(rows, cases):
        image, spacing = read_image(folder / "imagesTr" / f"{case}_0000.nii.gz")
        label, label_spacing = read_image(folder / "labelsTr" / f"{case}.nii.gz")
        np.testing.assert_allclose(image, cache.images[row], rtol=1e-6)
        np.testing.assert_array_equal(label, cache.labels[row])
        np.testing.assert_allclose(spacing, cache.spacing[row], rtol=1e-6)
        np.testing.assert_allclose(label_spacing, cache.spacing[row], rtol=1e-6)
    dataset = json.loads((folder / "dataset.json").read_text())
    assert dataset["numTraining"] == 4 and dataset["labels"] == LABELS
