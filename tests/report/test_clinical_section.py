"""The report's clinical section: the Simpson convention and the EF agreement with its bootstrap CIs."""

from __future__ import annotations

import re


def test_clinical_section_states_convention_and_ef_intervals(fake_report):
    text = fake_report.read_text(encoding="utf-8")
    clinical = text[text.index("<h2>Clinical indices</h2>") : text.index("<h2>Segmentation distances")]
    assert "Simpson convention: geometric" in clinical  # synthetic data: geometric by default
    assert "EF agreement, 95 % bootstrap confidence intervals" in clinical
    # run A was evaluated by lunet.evaluation: an interval wherever its 3 patients define one
    lines = re.findall(r"<li>([^<]*)</li>", clinical)
    cfg = [line for line in lines if line.startswith("unet1 / unet1 vs cfg (n = 3)")]
    assert len(cfg) == 1 and re.search(r"MAE \S+ \[\S+, \S+\] points", cfg[0])
    table3 = text[text.index("Table III") :]
    assert re.search(r"<td>\d+\.\d+ \[\d+\.\d+, \d+\.\d+\]</td>", table3)  # Table III cells carry the CIs
