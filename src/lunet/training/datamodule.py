"""Lightning data module over one fold of the preprocessed cache (:class:`lunet.data.cache.CachedImages`).

A batch is a dict: ``image`` (B, 1, S, S) float32 (already normalised by the cache), ``label`` (B, S, S)
uint8 (8× lighter to collate and copy than int64; the losses widen it on the device), ``box0`` (B, 4)
float32 (reference box, margin 0), ``box`` (B, 4) float32
(``lunet.boxes.enlarge_box(box0, margin)``: the regression target and the oracle's crop), ``index`` (B,)
int64 (row of the cache) and, with ``with_source`` (models that crop their ROI from the finer crop source,
``lunet.models.roi``), ``source`` (B, 1, 2S, 2S) float32 and ``source_label`` (B, 2S, 2S) uint8 from the
cache's crop-source arrays. Only frames with a ground truth and a defined box enter training, validation or
test. Validation and test use the annotated ED/ES rows only; with ``frames="all"`` training uses every
half-sequence row of a view instead of its ED/ES rows (its first and last frames are those), and the ED/ES
rows of views without an annotated half sequence.

Shuffling is deterministic and resumable: :class:`EpochShardSampler` permutes the rows with
``numpy.random.default_rng([seed, epoch])`` and gives each process of a DDP run its interleaved share (like
``torch.utils.data.DistributedSampler``, so a global batch of ``batch_size`` is split into ``world_size``
batches of ``batch_size / world_size``). It yields ``(row, epoch)`` pairs, so the optional augmentation is
seeded by ``(seed, epoch, row)`` whatever the worker that computes it.

Augmentation (off by default, as in the paper, which mentions none): a random zoom/translation (bilinear on
the image, nearest on the label) and a random gamma; the reference box is then recomputed from the moved
label. The crop source gets the same transform (same random draws; the map is the same in normalised
coordinates at any resolution).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from lunet.boxes import DEFAULT_BOX_MARGIN, enlarge_box, reference_box
from lunet.config import AugmentConfig
from lunet.data.cache import SEQUENCE, CachedImages
from lunet.data.folds import Fold

logger = logging.getLogger(__name__)


def augment_frame(
    image: np.ndarray, label: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Random zoom + translation (same for image and label) and gamma; (S, S) float32 and uint8 in and out."""
    from scipy.ndimage import affine_transform

    size = np.array(image.shape, dtype=np.float64)
    zoom = 1.0 + rng.uniform(-cfg.scale, cfg.scale)
    shift = rng.uniform(-cfg.shift, cfg.shift, size=2) * size
    centre = (size - 1) / 2
    # output pixel o samples input (o - centre - shift) / zoom + centre
    offset = centre - (centre + shift) / zoom
    matrix = np.eye(2) / zoom
    image = affine_transform(image, matrix, offset, order=1, mode="nearest").astype(np.float32)
    label = affine_transform(label, matrix, offset, order=0, mode="constant", cval=0).astype(np.uint8)
    gamma = 1.0 + rng.uniform(-cfg.gamma, cfg.gamma)
    image = np.clip(image, 0.0, 1.0) ** gamma
    return image.astype(np.float32), label


class CachedFrames(Dataset):
    """Frames ``rows`` of a cache as training dicts (see the module docstring).

    Indexed by a row position or by ``(position, epoch)`` (from :class:`EpochShardSampler`).
    """

    def __init__(
        self,
        cache: CachedImages,
        rows: np.ndarray,
        margin: float,
        augment: AugmentConfig,
        seed: int = 0,
        with_source: bool = False,
    ) -> None:
        self.cache = cache
        self.with_source = with_source
        if with_source:
            cache.require_source()
        self.rows = np.asarray(rows, dtype=np.int64)
        self.margin = margin
        self.augment = augment
        self.seed = seed

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, item: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        position, epoch = item if isinstance(item, tuple) else (item, 0)
        row = int(self.rows[position])
        image = np.array(self.cache.images[row], dtype=np.float32)
        label = np.array(self.cache.labels[row], dtype=np.uint8)
        box0 = np.asarray(self.cache.box0[row], dtype=np.float64)
        frames = [(image, label)]
        if self.with_source:
            frames.append((
                np.array(self.cache.source_images[row], dtype=np.float32),
                np.array(self.cache.source_labels[row], dtype=np.uint8),
            ))  # fmt: skip
        if self.augment.enabled:
            moved = [
                augment_frame(*frame, np.random.default_rng([self.seed, epoch, row]), self.augment)
                for frame in frames
            ]
            try:
                box0 = reference_box(moved[0][1], 0.0)
                frames = moved
            except ValueError:  # the structures left the image: keep the original frame
                pass
        item = {
            "image": torch.from_numpy(np.ascontiguousarray(frames[0][0]))[None],
            "label": torch.from_numpy(frames[0][1]),
            "box0": torch.from_numpy(box0.astype(np.float32)),
            "box": torch.from_numpy(enlarge_box(box0, self.margin).astype(np.float32)),
            "index": torch.tensor(row, dtype=torch.int64),
        }
        if self.with_source:
            item["source"] = torch.from_numpy(np.ascontiguousarray(frames[1][0]))[None]
            item["source_label"] = torch.from_numpy(frames[1][1])
        return item


class EpochShardSampler(Sampler):
    """Seeded per-epoch permutation (or identity), sharded over ``world_size`` processes; yields (position,
    epoch)."""

    def __init__(self, n: int, seed: int, shuffle: bool, rank: int = 0, world_size: int = 1) -> None:
        self.n, self.seed, self.shuffle = n, seed, shuffle
        self.rank, self.world_size = rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(self.n / self.world_size)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = (
            np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
            if self.shuffle
            else np.arange(self.n)
        )
        total = len(self) * self.world_size
        order = np.concatenate([order, order[: total - self.n]]) if total > self.n else order
        for position in order[self.rank :: self.world_size]:
            yield int(position), self.epoch


class CacheDataModule(L.LightningDataModule):
    """Train / val / test frames of one fold of a cache.

    Args:
        cache_dir: a complete cache (:func:`lunet.data.cache.build_cache`).
        fold: patient ids of train / val / test.
        batch_size: global batch size (divided by the number of processes).
        margin: box margin of the ``box`` entries.
        seed: shuffling and augmentation seed.
        num_workers: data-loader workers (0 = in the main process).
        augment: augmentation of the training frames.
        with_source: add the crop source (``source``, ``source_label``) to every batch.
        frames: training frames, ``"ed-es"`` or ``"all"`` (see the module docstring).
    """

    def __init__(
        self,
        cache_dir: str,
        fold: Fold,
        batch_size: int = 16,
        margin: float = DEFAULT_BOX_MARGIN,
        seed: int = 0,
        num_workers: int = 0,
        augment: AugmentConfig | None = None,
        with_source: bool = False,
        frames: str = "ed-es",
    ) -> None:
        super().__init__()
        self.frames = frames
        self.with_source = with_source
        self.cache_dir = cache_dir
        self.fold = fold
        self.batch_size = batch_size
        self.margin = margin
        self.seed = seed
        self.num_workers = num_workers
        self.augment = augment or AugmentConfig()
        self.cache: CachedImages | None = None

    def rows(self, split: str) -> np.ndarray:
        """Cache rows of ``split`` (``"train"``, ``"val"``, ``"test"``) with a ground truth and a finite
        box: the ED/ES rows, except for training with ``frames="all"`` (see the module docstring)."""
        if self.cache is None:
            self.cache = CachedImages(self.cache_dir)
        cache = self.cache
        rows = cache.indices_for(getattr(self.fold, split))
        index = cache.index
        if split == "train" and self.frames == "all":
            views = [(index[r]["patient_id"], index[r]["view"]) for r in rows]
            covered = {v for r, v in zip(rows, views, strict=True) if index[r]["instant"] == SEQUENCE}
            rows = [
                r
                for r, v in zip(rows, views, strict=True)
                if index[r]["instant"] == SEQUENCE or v not in covered
            ]
        else:
            rows = [r for r in rows if index[r].get("instant") != SEQUENCE]
        ok = [r for r in rows if index[r].get("has_gt", True) and np.isfinite(cache.box0[r]).all()]
        return np.asarray(ok, dtype=np.int64)

    def setup(self, stage: str | None = None) -> None:
        self.train_rows, self.val_rows = self.rows("train"), self.rows("val")
        if len(self.train_rows) == 0:
            raise ValueError(f"{self.cache_dir}: fold has no annotated training frames")
        logger.info(
            "fold: %d training frames, %d validation frames", len(self.train_rows), len(self.val_rows)
        )

    def _world(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def _loader(self, rows: np.ndarray, augment: AugmentConfig, shuffle: bool, shard: bool) -> DataLoader:
        rank, world = self._world() if shard else (0, 1)
        if self.batch_size % world:
            raise ValueError(f"batch size {self.batch_size} is not divisible by the {world} processes")
        if self.cache is None:
            self.cache = CachedImages(self.cache_dir)
        dataset = CachedFrames(self.cache, rows, self.margin, augment, self.seed, self.with_source)
        sampler = EpochShardSampler(len(rows), self.seed, shuffle, rank, world)
        return DataLoader(
            dataset,
            batch_size=self.batch_size // world,
            sampler=sampler,
            num_workers=self.num_workers,
            persistent_workers=False,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_rows, self.augment, shuffle=True, shard=True)

    def val_dataloader(self) -> DataLoader:
        # every process validates on the whole set: the logged (synced) value equals the single-process one
        return self._loader(self.val_rows, AugmentConfig(), shuffle=False, shard=False)
