"""Fixtures of the training tests: a tiny cache written by hand (documented layout) and tiny phantom data."""

import json

import numpy as np
import pytest

from lunet.boxes import reference_box


def write_tiny_cache(folder, n_patients=4, size=64, seed=0):
    """A complete cache in the layout of ``lunet.data.cache`` with ellipse 'hearts' (4 frames per patient)."""
    rng = np.random.default_rng(seed)
    images, labels, entries = [], [], []
    source_images, source_labels = [], []

    def frame(side: int, cy: float, cx: float, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
        # pixel centres of a side × side grid in the coordinates of the size × size grid
        rows, cols = (np.mgrid[:side, :side] + 0.5) * size / side - 0.5
        r = ((rows - cy) / a) ** 2 + ((cols - cx) / b) ** 2
        label = np.where(r < 1, 1, np.where(r < 1.6, 2, 0)).astype(np.uint8)
        return (0.2 + 0.6 * (label == 2) + 0.1 * rng.random((side, side))).astype(np.float32), label

    for p in range(n_patients):
        for view in ("2CH", "4CH"):
            for instant in ("ED", "ES"):
                cy, cx = size / 2 + rng.uniform(-6, 6, 2)
                a, b = rng.uniform(10, 14), rng.uniform(5, 8)
                image, label = frame(size, cy, cx, a, b)
                images.append(image)
                labels.append(label)
                source_image, source_label = frame(2 * size, cy, cx, a, b)  # the crop source (2S)
                source_images.append(source_image)
                source_labels.append(source_label)
                entries.append(
                    {
                        "patient_id": f"patient{p + 1:04d}",
                        "view": view,
                        "instant": instant,
                        "quality": "Good",
                        "ef_percent": 50.0 + p,
                        "has_gt": True,
                    }
                )
    n = len(images)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "images": np.stack(images),
        "labels": np.stack(labels),
        "source_images": np.stack(source_images),
        "source_labels": np.stack(source_labels),
        "spacing": np.full((n, 2), 0.5),
        "original_spacing": np.full((n, 2), 0.25),
        "original_shape": np.tile([2 * size, 2 * size], (n, 1)).astype(np.int64),
        "box0": np.stack([reference_box(lab, 0.0) for lab in labels]),
    }
    for name, array in arrays.items():
        np.save(folder / f"{name}.npy", array)
    (folder / "index.json").write_text(json.dumps({"key": "test", "size": size, "entries": entries}))
    (folder / "complete.json").write_text(json.dumps({"key": "test", "size": size, "count": n}))
    return folder


@pytest.fixture
def tiny_cache(tmp_path):
    return write_tiny_cache(tmp_path / "cache")


@pytest.fixture(scope="session")
def phantom_data(tmp_path_factory):
    """Six synthetic patients at 256×256 in the NIfTI CAMUS layout (about 2 s)."""
    from lunet.data.synthetic import generate as synthetic

    root = tmp_path_factory.mktemp("phantom") / "synth"
    synthetic.generate_dataset(root, 6, size="256", seed=0, workers=1, progress=False)
    return root
