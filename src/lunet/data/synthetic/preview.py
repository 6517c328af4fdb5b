"""``lunet synth --preview OUT.png``: a gallery of phantom views across image qualities (image | overlay).

Rows: Good (its 4CH with the unlabelled LV outflow tract), Medium, Poor and a hard case (foreshortened /
off-centre / cut by the sector / small in a deep field of view). Columns: the 4CH ED image, its reference
overlay, the 2CH ES image, its overlay. Every panel title starts with the row's label, which names the quality
of the views shown (:func:`row_label`), so a row and its panels never name different qualities. The figure
title says SYNTHETIC: it is a phantom, never CAMUS.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import numpy as np

from lunet.data.labels import Instant, Label, View
from lunet.data.synthetic.appearance import QUALITIES
from lunet.data.synthetic.patient import PatientRender, PhantomOptions, render_patient
from lunet.io import atomic_path

logger = logging.getLogger(__name__)

#: (row title, quality mix, hard fraction, LVOT fraction) of the gallery rows; the Good row shows the
#: unlabelled outflow tract (LVOT) of an anteriorly tilted 4CH.
ROWS = (
    ("Good", (1.0, 0.0, 0.0), 0.0, 1.0),
    ("Medium", (0.0, 1.0, 0.0), 0.0, 0.0),
    ("Poor", (0.0, 0.0, 1.0), 0.0, 0.0),
    ("hard case", (0.0, 1.0, 0.0), 1.0, 0.0),
)
COLOURS = {Label.LV: (1.0, 0.2, 0.2), Label.MYO: (0.2, 0.6, 1.0), Label.LA: (0.2, 0.9, 0.3)}


def overlay(image: np.ndarray, label: np.ndarray, alpha: float = 0.35) -> np.ndarray:
    """RGB float ``(rows, cols, 3)`` in [0, 1]: the grey image, labels tinted (LV red, MYO blue, LA green)."""
    rgb = np.repeat(image[..., None].astype(np.float32) / 255.0, 3, axis=2)
    for lab, colour in COLOURS.items():
        mask = label == lab
        rgb[mask] = (1 - alpha) * rgb[mask] + alpha * np.asarray(colour, np.float32)
    return rgb


#: Patients tried per gallery row for one whose two views both have the row's quality tier.
ROW_ATTEMPTS = 8


def _row_patient(title: str, index: int, seed: int, options: PhantomOptions) -> PatientRender:
    """The first patient from ``index`` on (step ``len(ROWS)``) whose views are all of quality ``title``.

    A view may be drawn one tier better than its patient, so a "Poor" row could otherwise show a Medium
    view. Rows that are not a quality tier (the hard case) take the first patient.
    """
    first = render_patient(index, seed, "256", options)
    if title not in QUALITIES:
        return first
    for attempt in range(ROW_ATTEMPTS):
        patient = first if attempt == 0 else render_patient(index + attempt * len(ROWS), seed, "256", options)
        if all(vr.quality == title for vr in patient.views.values()):
            return patient
    return first


def row_label(title: str, patient: PatientRender) -> str:
    """The label of a gallery row from the views it shows: their quality tier(s) (worst last), after the
    row's role for rows that are not a tier (``"hard case (Medium)"``)."""
    tiers = sorted({vr.quality for vr in patient.views.values()}, key=QUALITIES.index)
    shown = " / ".join(tiers)
    if title in QUALITIES:
        if shown != title:
            logger.warning("gallery row %s: no patient with both views %s; showing %s", title, title, shown)
        return shown
    return f"{title} ({shown})"


def write_preview(out: str | os.PathLike[str], seed: int = 0, first_index: int = 1) -> Path:
    """Render one patient per gallery row (256×256) and write the PNG gallery to ``out``; returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(ROWS), 4, figsize=(8.0, 2.1 * len(ROWS)), squeeze=False)
    for row, (title, mix, hard, lvot) in enumerate(ROWS):
        patient = _row_patient(
            title,
            first_index + row,
            seed,
            PhantomOptions(quality_mix=mix, hard_fraction=hard, lvot_fraction=lvot),
        )
        label_text = row_label(title, patient)
        for col, (view, instant) in enumerate(((View.A4C, Instant.ED), (View.A2C, Instant.ES))):
            vr = patient.views[view]
            image, label = vr.image(instant), vr.label(instant)
            axes[row, 2 * col].imshow(image, cmap="gray", vmin=0, vmax=255)
            axes[row, 2 * col + 1].imshow(overlay(image, label))
            name = f"{label_text}: {view.value} {instant.value}{' (LVOT)' if vr.lvot else ''}"
            axes[row, 2 * col].set_title(name, fontsize=7)
            axes[row, 2 * col + 1].set_title("reference", fontsize=7)
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle("lunet phantom — SYNTHETIC, not CAMUS (LV red, myocardium blue, LA green)", fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=64, format="png")
    plt.close(fig)
    buffer.seek(0)
    from PIL import Image

    out = Path(out)
    with atomic_path(out) as tmp:  # 96 colours: a gallery small enough for a README
        Image.open(buffer).convert("RGB").quantize(96).save(tmp, format="PNG", optimize=True)
    logger.info("wrote the phantom gallery %s", out)
    return out
