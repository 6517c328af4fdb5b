"""The report's clinical section: the Simpson convention; Table III's EF agreement with its bootstrap CIs."""

from __future__ import annotations

import re


def test_clinical_section_states_convention_and_ef_intervals(fake_report):
    text = fake_report.read_text(encoding="utf-8")
    clinical = text[text.index('<h2 id="clinical">') : text.index('<h2 id="distances">')]
    assert "Simpson convention: geometric" in clinical  # synthetic data: geometric by default
    assert "95 % bootstrap confidence intervals of corr and MAE: Table III" in clinical
    table3 = text[text.index('id="table3"') :]
    table3 = table3[: table3.index("</table>")]
    # run A was evaluated by lunet.evaluation: an interval wherever its 3 patients define one
    row = re.search(r"<tr><td>unet1</td><td>unet1</td><td>cfg</td><td>3</td>(.*?)</tr>", table3)
    assert row and re.search(r"<td>\d+\.\d+ \[\d+\.\d+, \d+\.\d+\]</td>", row.group(1))
