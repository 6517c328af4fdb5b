"""``--frames all``: training on every annotated half-sequence frame, ED/ES kept for validation and test."""

import json
from pathlib import Path

import numpy as np
import pytest

from lunet.config import TrainConfig
from lunet.data.cache import SEQUENCE, CachedImages, build_cache
from lunet.data.camus import scan_camus
from lunet.data.folds import Fold
from lunet.training.datamodule import CacheDataModule
from lunet.training.fit import default_cache_dir


@pytest.fixture(scope="module")
def phantom4(tmp_path_factory):
    """Four phantom patients at 256×256; half sequences of 4 frames (ED, 2 intermediate, ES)."""
    from lunet.data.synthetic import generate as synthetic

    root = tmp_path_factory.mktemp("frames") / "synth"
    synthetic.generate_dataset(root, 4, size="256", seed=3, workers=1, progress=False, intermediate_frames=2)
    return root


@pytest.fixture(scope="module")
def caches(phantom4, tmp_path_factory):
    folder = tmp_path_factory.mktemp("caches")
    return (
        build_cache(phantom4, folder / "edes", size=64, workers=1),
        build_cache(phantom4, folder / "all", size=64, workers=1, frames="all"),
    )


FOLD = Fold(index=0, train=["patient0001", "patient0002"], val=["patient0003"], test=["patient0004"])


def module(cache_dir, frames):
    return CacheDataModule(str(cache_dir), FOLD, batch_size=2, frames=frames)


def rows_of(cache_dir, frames):
    data = module(cache_dir, frames)
    return {split: data.rows(split) for split in ("train", "val", "test")}, CachedImages(cache_dir)


def test_all_frames_train_on_the_sequences_and_keep_ed_es_for_val_and_test(phantom4, caches):
    edes_dir, all_dir = caches
    rows, cache = rows_of(all_dir, "all")
    dataset = scan_camus(phantom4)
    lengths = {
        (p.patient_id, v): len(p.load_sequence(v).frames) for p in dataset.patients for v in ("2CH", "4CH")
    }
    assert set(lengths.values()) == {4}
    expected = sum(n for (pid, _), n in lengths.items() if pid in FOLD.train)
    assert len(rows["train"]) == expected == 16
    assert all(cache.index[r]["instant"] == SEQUENCE for r in rows["train"])
    frames_seen = sorted(
        (cache.index[r]["patient_id"], cache.index[r]["view"], cache.index[r]["frame"]) for r in rows["train"]
    )
    assert frames_seen == sorted(
        (p, v, t) for (p, v), n in lengths.items() if p in FOLD.train for t in range(1, n + 1)
    )
    # validation and test: exactly the ED/ES rows, with the same pixels as in the ED/ES cache
    edes_rows, edes = rows_of(edes_dir, "ed-es")
    for split in ("val", "test"):
        assert [cache.index[r] for r in rows[split]] == [edes.index[r] for r in edes_rows[split]]
        assert len(rows[split]) == 4
        np.testing.assert_array_equal(cache.images[rows[split]], edes.images[edes_rows[split]])
        np.testing.assert_array_equal(cache.labels[rows[split]], edes.labels[edes_rows[split]])
    # the first/last sequence frames are the ED/ES frames (the phantom renders them identically)
    first = next(r for r in rows["train"] if cache.index[r]["frame"] == 1)
    entry = cache.index[first]
    ed = next(
        i
        for i, e in enumerate(edes.index)
        if (e["patient_id"], e["view"], e["instant"]) == (entry["patient_id"], entry["view"], "ED")
    )
    np.testing.assert_array_equal(cache.labels[first], edes.labels[ed])
    # the same cache with the default option trains on ED/ES only
    default_rows, _ = rows_of(all_dir, "ed-es")
    assert [cache.index[r] for r in default_rows["train"]] == [edes.index[r] for r in edes_rows["train"]]


def test_default_cache_is_unchanged_and_keys_differ(phantom4, caches):
    edes_dir, all_dir = caches
    edes, full = CachedImages(edes_dir), CachedImages(all_dir)
    assert len(edes) == 16 and "frames" not in edes.meta
    assert all(e["instant"] in ("ED", "ES") for e in edes.index)
    assert list(edes.index[0]) == ["patient_id", "view", "instant", "quality", "ef_percent", "has_gt"]
    assert full.meta["frames"] == "all" and len(full) == 16 + 4 * 2 * 4
    key_edes = json.loads((edes_dir / "complete.json").read_text())["key"]
    key_all = json.loads((all_dir / "complete.json").read_text())["key"]
    assert key_edes != key_all
    # an ED/ES request on the all-frames folder rebuilds it as an ED/ES cache (never mistaken for one)
    rebuilt = build_cache(phantom4, all_dir.parent / "all_copy", size=64, workers=1, frames="all")
    build_cache(phantom4, rebuilt, size=64, workers=1)
    assert json.loads((rebuilt / "complete.json").read_text())["key"] == key_edes
    assert len(CachedImages(rebuilt)) == 16
    with pytest.raises(ValueError, match="frames"):
        build_cache(phantom4, all_dir.parent / "bad", size=64, frames="some")


def test_config_field_round_trip_old_files_and_cache_folder(tmp_path):
    config = TrainConfig.create(data="/d/synth", size=64, frames="all")
    assert config.data.frames == "all"
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config.to_dict()))
    assert TrainConfig.from_json(path) == config
    old = config.to_dict()
    del old["data"]["frames"]
    path.write_text(json.dumps(old))
    assert TrainConfig.from_json(path).data.frames == "ed-es"
    flat_v1 = Path(__file__).parent / "fixtures" / "config_flat_v1.json"
    assert TrainConfig.from_json(flat_v1).data.frames == "ed-es"
    run = tmp_path / "runs" / "r"
    assert default_cache_dir(config, run).name == "synth_64_all"
    assert default_cache_dir(config.replace(frames="ed-es"), run).name == "synth_64"
    with pytest.raises(ValueError, match="frames"):
        TrainConfig.create(frames="every")


def test_lunet_train_frames_all_end_to_end(phantom4, tmp_path, caplog):
    from lunet.cli import main

    run = tmp_path / "runs" / "all"
    argv = ["train", "--data", str(phantom4), "--out", str(run), "--size", "64", "--batch-size", "4",
            "--n-folds", "3", "--epochs", "1", "--patience", "0", "--no-progress", "--accelerator", "cpu",
            "--frames", "all"]  # fmt: skip
    with caplog.at_level("INFO", logger="lunet.training.datamodule"):
        assert main(argv) == 0
    assert (tmp_path / "runs" / "cache" / "synth_64_all" / "complete.json").is_file()
    assert json.loads((run / "config.json").read_text())["data"]["frames"] == "all"
    test_ids = (run / "folds" / "subGroup1_testing.txt").read_text().split()
    train_ids = (run / "folds" / "subGroup1_training.txt").read_text().split()
    counts = [m for m in caplog.messages if m.startswith("fold:")]
    assert counts and counts[0].startswith(f"fold: {len(train_ids) * 2 * 4} training frames, ")
    written = sorted(p.name for p in (run / "predictions").rglob("*.nii.gz"))
    expected = sorted(f"{p}_{v}_{i}.nii.gz" for p in test_ids for v in ("2CH", "4CH") for i in ("ED", "ES"))
    assert written == expected


def test_demo_takes_the_option_and_keeps_its_own_cache_folder():
    from lunet.cli import build_parser
    from lunet.demo import DemoSettings

    args = build_parser().parse_args(["demo", "--frames", "all"])
    settings = DemoSettings().replace(frames=args.frames)
    assert settings.train_config("unet1", Path("d"), Path("c")).data.frames == "all"
    assert (settings.cache_folder, DemoSettings().cache_folder) == ("data_64_all", "data_64")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--frames", "every"])
