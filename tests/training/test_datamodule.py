import numpy as np
import pytest
import torch

from lunet.boxes import enlarge_box, reference_box
from lunet.config import AugmentConfig
from lunet.data.folds import Fold
from lunet.training.datamodule import CacheDataModule, CachedFrames, EpochShardSampler


def _module(cache, **kwargs):
    fold = Fold(0, ["patient0001", "patient0002"], ["patient0003"], ["patient0004"])
    dm = CacheDataModule(str(cache), fold, **{"batch_size": 4, "margin": 0.05, **kwargs})
    dm.setup("fit")
    return dm


def test_batches_have_the_documented_layout(tiny_cache):
    dm = _module(tiny_cache)
    assert len(dm.train_rows) == 8 and len(dm.val_rows) == 4 and len(dm.rows("test")) == 4
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (4, 1, 64, 64) and batch["image"].dtype == torch.float32
    assert batch["label"].shape == (4, 64, 64) and batch["label"].dtype == torch.uint8
    assert batch["box0"].shape == (4, 4) and batch["index"].dtype == torch.int64
    expected = enlarge_box(batch["box0"].double().numpy(), 0.05)
    np.testing.assert_allclose(batch["box"].numpy(), expected, atol=1e-6)
    for label, box0 in zip(batch["label"].numpy(), batch["box0"].numpy()):
        np.testing.assert_allclose(reference_box(label), box0, atol=1e-6)


def test_sampler_is_seeded_per_epoch_and_shards_cover_the_single_process_order():
    single = EpochShardSampler(10, seed=3, shuffle=True)
    single.set_epoch(2)
    order = [p for p, _ in single]
    assert sorted(order) == list(range(10)) and order == [p for p, _ in single]
    single.set_epoch(3)
    assert [p for p, _ in single] != order
    shards = [EpochShardSampler(10, 3, True, rank, 2) for rank in (0, 1)]
    for s in shards:
        s.set_epoch(2)
    a, b = ([p for p, _ in s] for s in shards)
    # global batch of 4 = the first 2 of each rank = the single process's first 4 (interleaved)
    assert sorted(a[:2] + b[:2]) == sorted(order[:4])
    assert EpochShardSampler(5, 0, False).__len__() == 5 and [
        p for p, _ in EpochShardSampler(3, 0, False)
    ] == [0, 1, 2]


def test_augmentation_is_deterministic_and_keeps_label_and_box_consistent(tiny_cache):
    dm = _module(tiny_cache)
    ds = CachedFrames(dm.cache, dm.train_rows, 0.05, AugmentConfig(True, 0.1, 0.1, 0.2), seed=1)
    a, b, c = ds[(0, 5)], ds[(0, 5)], ds[(0, 6)]
    assert torch.equal(a["image"], b["image"]) and not torch.equal(a["image"], c["image"])
    np.testing.assert_allclose(reference_box(a["label"].numpy()), a["box0"].numpy(), atol=1e-6)
    plain = CachedFrames(dm.cache, dm.train_rows, 0.05, AugmentConfig(), seed=1)[0]
    assert not torch.equal(plain["label"], a["label"])


def test_batch_size_must_divide_across_processes(tiny_cache):
    dm = _module(tiny_cache, batch_size=3)
    dm._world = lambda: (0, 2)  # type: ignore[method-assign]
    with pytest.raises(ValueError, match="not divisible"):
        dm._loader(dm.train_rows, AugmentConfig(), True, True)
