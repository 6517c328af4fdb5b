"""Whole-sequence speed and INT8 accuracy: a 2 × 20-frame phantom cine pair through U-Net1 (and LU-Net).

SYNTHETIC: every figure here is measured on phantom data, never CAMUS.

In one run: a U-Net1 trained briefly on phantom frames (``--train-steps``; or ``--run`` a trained bundle),
its fp32 ONNX export and its INT8 QDQ quantization (calibrated on other phantom frames,
``lunet.inference.quantize``).
Then, on a two-view phantom cine pair (``--frames`` per view, 256×256 network input, ``--threads`` cores):

- network rate (frames/s) of fp32 ORT and INT8 ORT, batches of ``--batch``, best of ``--repeats``;
- end-to-end rate of ``predict_cine`` (resize, network, resize back, argmax, curve, ED/ES) for both;
- Dice of the INT8 LV masks against the fp32 ones (target ≥ 0.995, i.e. a change ≤ 0.005), and both against
  the phantom's labels; ED/ES frames against the truth (0 and T−1 in ED → ES order);
- the temporal smoothing of the probabilities (``temporal_sigma`` 1 frame) against none, fp32.

LU-Net (``--models unet1 lunet``) is timed with random weights (its INT8 Dice is not meaningful untrained).
Run: ``python bench/bench_sequence.py`` (minutes on 2 idle cores; 16 min at load 5–18).

``--multibeat DATA --run RUN``: ED/ES of every beat on the phantom's own multi-beat cines (``lunet synth
--cycles N``, ``*_cine.nii.gz``) predicted with a trained model by ``lunet predict --sequence`` (whole
pipeline; a ``*_cine`` file is a cine of several beats), against the true frames of ``phantom_truth.json``.
Each true ED (ES) is matched to the nearest detected one within half a beat (one on the first or last
frame is counted as "edge", not judged: the detector never takes an end frame, the true extremum may lie
outside the recording); the error is detected − true in frames and in ms at the phantom's frame rate;
unmatched true frames are missed, unmatched detections extra. The largest errors are listed by cine.
The same detector on the reference masks' area curve is printed beside it (the detector's own share of the
error).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import best_of, print_header, print_table, setup_torch, verdict

SIZE = 256


def phantom_pair(index: int, frames: int, seed: int) -> dict:
    """{view: (frames (T, r, c) float32, labels (T, r, c) uint8, spacing)} of one phantom patient, ED → ES."""
    from lunet.data.synthetic import PhantomOptions, render_patient

    patient = render_patient(
        index, seed=seed, size="256", options=PhantomOptions(intermediate_frames=frames - 2)
    )
    return {
        v.value: (r.frames.astype(np.float32), r.frame_labels, tuple(r.spacing))
        for v, r in patient.views.items()
    }


def train_unet1(steps: int, seed: int, out: Path) -> Path:
    """U-Net1 after ``steps`` Adam steps (batch 4, cross-entropy) on phantom frames; returns the bundle."""
    import torch

    from lunet.bundle import save_bundle
    from lunet.data.preprocess import prepare_image, resize_label
    from lunet.models import create_model

    images, labels = [], []
    for index in range(1, 9):
        for frames, labs, spacing in phantom_pair(index, 5, seed).values():
            for frame, lab in zip(frames, labs):
                images.append(prepare_image(frame, spacing, SIZE)[0])
                labels.append(resize_label(lab, spacing, SIZE)[0])
    x = torch.from_numpy(np.stack(images)[:, None])
    y = torch.from_numpy(np.stack(labels).astype(np.int64))
    torch.manual_seed(seed)
    model = create_model("unet1")
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(seed)
    model.train()
    for _ in range(steps):
        pick = torch.from_numpy(rng.choice(len(x), 4, replace=False))
        loss = torch.nn.functional.cross_entropy(model(x[pick]), y[pick])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    print(f"trained U-Net1: {steps} steps on {len(x)} phantom frames, final loss {loss.item():.3f}")
    return save_bundle(out, model.eval(), {"model": "unet1", "overrides": {}, "size": SIZE})


def random_bundle(label: str, seed: int, out: Path) -> Path:
    """A random-weight model bundle (for timing only) of a model or ``name@key=value,...`` variant, with the
    model options a new training config of it would get (``lunet``: its default recipe's)."""
    import torch

    from bench_accuracy import parse_variant
    from lunet.bundle import save_bundle
    from lunet.config import TrainConfig
    from lunet.models import create_model

    name, changes = parse_variant(label)
    overrides = TrainConfig.create(model=name, **changes).model.overrides
    torch.manual_seed(seed)
    model = create_model(name, **overrides).eval()
    meta = {"model": name, "overrides": overrides, "size": SIZE}
    return save_bundle(out, model, meta)


def lv_dice(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(T,) Dice of the LV (label 1) of two (T, r, c) label series (1.0 when both are empty)."""
    a, b = a == 1, b == 1
    inter = (a & b).reshape(len(a), -1).sum(1)
    total = a.reshape(len(a), -1).sum(1) + b.reshape(len(b), -1).sum(1)
    return np.where(total > 0, 2 * inter / np.maximum(total, 1), 1.0)


def bench_model(name: str, bundle: Path, pair: dict, args: argparse.Namespace, tmp: Path) -> list[dict]:
    from lunet.bundle import Bundle
    from lunet.inference.export import export_onnx
    from lunet.inference.predict import network_inputs
    from lunet.inference.quantize import phantom_calibration, quantize_onnx
    from lunet.inference.sequence import SequenceOptions, analyse, predict_cine
    from lunet.inference.sequence_io import Cine
    from lunet.predictor import Predictor, make_session

    fp32 = export_onnx(bundle, tmp / f"{name}.onnx")
    int8 = quantize_onnx(fp32, tmp / f"{name}.int8.onnx", phantom_calibration(args.calibration, SIZE))
    opened = Bundle.open(bundle)
    rows, labels = [], {}
    for precision, path in (("fp32", fp32), ("int8", int8)):
        session = make_session(path, threads=args.threads, providers=["CPUExecutionProvider"])
        predictor = Predictor.from_session(session, opened)
        inputs, names, run = predictor.inputs, predictor.outputs, predictor._run
        frames = [network_inputs(f, sp, predictor) for fr, _, sp in pair.values() for f in fr]
        batch = [np.stack(arrays)[:, None] for arrays in zip(*frames)]  # image (+ LU-Net's crop source)

        def network(run=run, inputs=inputs, batch=batch) -> float:
            start = time.perf_counter()
            for i in range(0, len(batch[0]), args.batch):
                run({k: np.ascontiguousarray(b[i : i + args.batch]) for k, b in zip(inputs, batch)})
            return time.perf_counter() - start

        seconds = best_of(network, args.repeats)
        cines = {
            v: Cine(Path(f"{v}.nii.gz"), "nifti", fr, sp, hint="half") for v, (fr, _, sp) in pair.items()
        }
        options = SequenceOptions(batch_size=args.batch)
        start = time.perf_counter()
        results = {v: predict_cine(predictor, c, options) for v, c in cines.items()}
        end_to_end = time.perf_counter() - start
        labels[precision] = results
        row = {
            "model": name, "precision": precision, "net frames/s": len(batch[0]) / seconds,
            "net ms/frame": 1000 * seconds / len(batch[0]), "e2e frames/s": len(batch[0]) / end_to_end,
        }  # fmt: skip
        if "logits" in names and args.trained.get(name):
            truth = np.concatenate([lab for _, lab, _ in pair.values()])
            pred = np.concatenate([r.labels for r in results.values()])
            row["Dice vs truth"] = float(lv_dice(pred, truth).mean())
            row["ED/ES exact"] = sum(
                r.phases.ed_frames == (0,) and r.phases.es_frames == (len(r.labels) - 1,)
                for r in results.values()
            )
            if precision == "fp32":
                smooth = {
                    v: analyse(cines[v], _smoothed(predictor, cines[v], args), options).labels for v in cines
                }
                row["Dice vs truth, sigma 1"] = float(
                    lv_dice(np.concatenate([smooth[v] for v in cines]), truth).mean()
                )
        rows.append(row)
    if "logits" in names and args.trained.get(name):
        fp, q = (np.concatenate([r.labels for r in labels[p].values()]) for p in ("fp32", "int8"))
        change = 1.0 - float(lv_dice(q, fp).mean())
        rows[-1]["Dice change vs fp32"] = change
        print(
            f"{name}: INT8 vs fp32 LV Dice change {change:.4f} "
            f"(target ≤ 0.005: {verdict(change, 0.005, False)})"
        )
    rate = rows[-1]["net frames/s"]
    print(f"{name}: INT8 network rate {rate:.1f} frames/s (target ≥ 30: {verdict(rate, 30.0)})")
    return rows


def _smoothed(predictor: object, cine: object, args: argparse.Namespace) -> np.ndarray:
    from lunet.inference.sequence import segment_frames

    return segment_frames(predictor, cine.frames, cine.spacing, args.batch, temporal_sigma=1.0)


def match_beats(true: list[int], found: list[int], period: float) -> tuple[list[int], int, int]:
    """(errors found − true in frames of each matched true frame, missed, extra): nearest within period/2."""
    errors, used = [], set()
    for t in true:
        candidates = [(abs(f - t), f) for f in found if f not in used and abs(f - t) <= period / 2]
        if candidates:
            _, f = min(candidates)
            used.add(f)
            errors.append(f - t)
    return errors, len(true) - len(errors), len(found) - len(used)


def multibeat(data: Path, run: Path, out: Path) -> int:
    """Print the per-beat ED/ES frame errors of ``run`` on the ``*_cine.nii.gz`` cines under ``data``."""
    import json

    from lunet.data.camus_io import read_sequence
    from lunet.inference.sequence import SequenceOptions
    from lunet.inference.sequence_outputs import predict_sequences
    from lunet.inference.sequence_phases import detect_phases

    cines = sorted(data.rglob("*_cine.nii.gz"))
    if not cines:
        raise SystemExit(f"{data}: no *_cine.nii.gz (generate with lunet synth --cycles N)")
    start = time.perf_counter()
    rows = predict_sequences(run, cines, out, SequenceOptions(animation=False), backend="torch")
    seconds = time.perf_counter() - start
    n_frames = sum(r.get("frames", 0) for r in rows if r["status"] == "ok")
    print(f"{len(cines)} cines, {n_frames} frames predicted in {seconds:.0f} s (whole pipeline)")
    results: dict[tuple[str, str], dict[str, list]] = {}
    worst: list[tuple[int, int, str, str, str]] = []
    for row in rows:
        if row["status"] != "ok":
            print(f"failed: {row['input']}: {row['error']}")
            continue
        path = Path(row["input"])
        truth = json.loads((path.parent / "phantom_truth.json").read_text())
        view = path.name.split("_")[1]
        true = truth["views"][view]["cine"]
        frame_ms = 1000.0 / truth["frame_rate"]
        period = float(np.median(np.diff(true["ed_frames"]))) if len(true["ed_frames"]) > 1 else 1e9
        record = json.loads((out / row["json"]).read_text())
        labels, spacing = read_sequence(str(path).replace("_cine.nii.gz", "_cine_gt.nii.gz"))
        ref_area = (labels == 1).reshape(len(labels), -1).sum(1) * spacing[0] * spacing[1]
        ref = detect_phases(ref_area, kind="cycle")
        found = {
            "predicted masks": (record["ed_frames"], record["es_frames"]),
            "reference masks": ([f + 1 for f in ref.ed_frames], [f + 1 for f in ref.es_frames]),
        }
        for source, (eds, ess) in found.items():
            n = len(ref_area)
            for instant, all_frames, f_frames in (
                ("ED", true["ed_frames"], eds),
                ("ES", true["es_frames"], ess),
            ):
                t_frames = [t for t in all_frames if 1 < t < n]
                edge = len(all_frames) - len(t_frames)
                errors, missed, extra = match_beats(t_frames, f_frames, period)
                worst.extend((abs(e), e, path.name, instant, source) for e in errors if abs(e) >= 3)
                acc = results.setdefault((source, instant), {"err": [], "ms": [], "missed": [0], "extra": [0],
                                                             "beats": [0], "edge": [0]})  # fmt: skip
                acc["edge"][0] += edge
                acc["err"] += errors
                acc["ms"] += [e * frame_ms for e in errors]
                acc["missed"][0] += missed
                acc["extra"][0] += extra
                acc["beats"][0] += len(t_frames)
    table = []
    for (source, instant), acc in results.items():
        err, ms = np.asarray(acc["err"], float), np.asarray(acc["ms"], float)
        table.append({
            "curve": source, "instant": instant, "true (judged)": acc["beats"][0], "edge": acc["edge"][0],
            "matched": err.size,
            "missed": acc["missed"][0], "extra": acc["extra"][0],
            "mean err frames": err.mean() if err.size else float("nan"),
            "SD frames": err.std(ddof=1) if err.size > 1 else float("nan"),
            "mean |err| frames": np.abs(err).mean() if err.size else float("nan"),
            "mean |err| ms": np.abs(ms).mean() if ms.size else float("nan"),
            "SD ms": ms.std(ddof=1) if ms.size > 1 else float("nan"),
        })  # fmt: skip
    print_table(table, list(table[0]), digits=2)
    for _, error, name, instant, source in sorted(worst, reverse=True)[:8]:
        print(f"  {source}: {name} {instant} off by {error:+d} frames")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["unet1"], metavar="MODEL[@KEY=VALUE,...]",
                        help="unet1 (trained briefly) and random-weight models or variants, e.g. lunet "
                             "lunet@recipe=paper lunet@localizer_scale=2")  # fmt: skip
    parser.add_argument("--run", default=None, help="a trained U-Net1 bundle (default: train one briefly)")
    parser.add_argument("--train-steps", type=int, default=60)
    parser.add_argument("--frames", type=int, default=20, help="frames per view")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--calibration", type=int, default=32, help="phantom frames to calibrate INT8")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--multibeat", default=None, metavar="DATA",
        help="ED/ES per beat on the cines of DATA (lunet synth --cycles N), with --run",
    )  # fmt: skip
    parser.add_argument("--out", default=None, help="--multibeat: output folder (default: a temporary one)")
    args = parser.parse_args(argv)
    setup_torch("cpu", args.threads)
    if args.multibeat:
        if not args.run:
            raise SystemExit("--multibeat needs --run RUN (a trained model)")
        print_header(f"Multi-beat ED/ES on phantom cines (SYNTHETIC), {args.run}")
        out = Path(args.out or tempfile.mkdtemp(prefix="lunet-multibeat-"))
        return multibeat(Path(args.multibeat), Path(args.run), out)
    print_header(f"Sequence speed, fp32 vs INT8 ONNX Runtime (SYNTHETIC phantom, {args.threads} threads)")
    pair = phantom_pair(101, args.frames, args.seed)
    rows = []
    with tempfile.TemporaryDirectory(prefix="lunet-seq-") as tmp_dir:
        tmp = Path(tmp_dir)
        args.trained = {}
        for name in args.models:
            if name == "unet1":
                start = time.perf_counter()
                bundle = (
                    Path(args.run) if args.run else train_unet1(args.train_steps, args.seed, tmp / "unet1")
                )
                print(f"U-Net1 ready in {time.perf_counter() - start:.0f} s")
                args.trained[name] = True
            else:
                bundle = random_bundle(name, args.seed, tmp / name)
            rows += bench_model(name, bundle, pair, args, tmp)
    columns = ["model", "precision", "net frames/s", "net ms/frame", "e2e frames/s", "Dice vs truth",
               "Dice vs truth, sigma 1", "Dice change vs fp32", "ED/ES exact"]  # fmt: skip
    print_table(rows, columns, digits=3)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
