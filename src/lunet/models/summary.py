"""Parameter counts and CPU forward times of the registered networks (``lunet models``)."""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

from lunet.models.registry import MODELS, count_parameters, create_model


def example_inputs(name: str, size: int = 256, batch: int = 1) -> tuple[torch.Tensor, ...]:
    """Inputs of ``model(*inputs)``: a random image ``(batch, 1, size, size)``, + a box for the oracle."""
    generator = torch.Generator().manual_seed(0)
    image = torch.randn(batch, 1, size, size, generator=generator)
    if MODELS[name].needs_reference_box:
        return image, torch.tensor([[0.25, 0.2, 0.75, 0.8]]).expand(batch, 4).contiguous()
    return (image,)


def forward_ms(model: nn.Module, inputs: tuple[torch.Tensor, ...], repeats: int = 3) -> float:
    """Median wall time (ms) of ``model(*inputs)``, eval mode, ``torch.inference_mode``, after 1 warm-up."""
    model.eval()
    times = []
    with torch.inference_mode():
        model(*inputs)
        for _ in range(repeats):
            start = time.perf_counter()
            model(*inputs)
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def model_table(time_forward: bool = True, size: int = 256, repeats: int = 3) -> list[dict[str, object]]:
    """One row per registered model: name, params, paper_params, ratio, note, and forward_ms if timed."""
    rows: list[dict[str, object]] = []
    for name, spec in MODELS.items():
        model = create_model(name)
        params = count_parameters(model)
        row: dict[str, object] = {
            "name": name,
            "params": params,
            "paper_params": spec.paper_params,
            "ratio": params / spec.paper_params,
            "description": spec.description,
            "note": spec.note,
        }
        if time_forward:
            row["forward_ms"] = forward_ms(model, example_inputs(name, size), repeats)
        rows.append(row)
    return rows


def format_table(rows: list[dict[str, object]], size: int = 256) -> str:
    """Plain-text table of :func:`model_table` rows."""
    timed = any("forward_ms" in r for r in rows)
    head = f"{'name':<13} {'params':>8} {'paper':>6} {'ratio':>6}" + (f" {f'ms@{size}':>8}" if timed else "")
    lines = [head + "  description", "-" * (len(head) + 40)]
    for r in rows:
        line = (
            f"{r['name']:<13} {r['params'] / 1e6:>7.2f}M {r['paper_params'] / 1e6:>5.1f}M {r['ratio']:>6.2f}"
        )
        if timed:
            line += f" {r['forward_ms']:>8.1f}"
        note = f" [{r['note']}]" if r["note"] else ""
        lines.append(f"{line}  {r['description']}{note}")
    lines.append(
        f"forward: batch 1, {size}×{size}, CPU ({torch.get_num_threads()} threads), median of runs, ms"
    )
    return "\n".join(lines)
