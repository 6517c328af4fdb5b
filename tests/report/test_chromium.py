"""Open the report in a real headless Chromium: it renders, every image decodes, no script error, and at
1280 px nothing runs off the page, the summary table comes first and within the first screen.

A copy of the report gets a small probe script (the report itself has none) that, on ``load``, writes to
``<body>`` how many images decoded (``naturalWidth > 0``), how many errors were seen, and the layout: page
width against the viewport, the first table's id, the summary table's bottom edge, the table rows visible
with every ``<details>`` closed, and the sections present; ``--dump-dom`` returns the DOM after that. A
second run takes a screenshot. A broken image and a too-wide table are the negative controls.

Without Chromium the tests are skipped, unless ``LUNET_REQUIRE_CHROMIUM=1`` (``.ci/run`` sets it): then
they fail, so CI cannot pass without having run them.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and os.environ.get("LUNET_REQUIRE_CHROMIUM") == "1":
    raise RuntimeError("LUNET_REQUIRE_CHROMIUM=1 but no chromium on PATH (apt-get install chromium)")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")
#: Sections every report has (``sequences`` only with a sequence evaluation; the fake runs have one).
SECTIONS = ("summary", "gallery", "paper", "clinical", "distances", "tables", "sequences", "method")

PROBE = """<script>
window.__errors = [];
window.addEventListener('error', function (e) { window.__errors.push(String(e.message || e.type)); }, true);
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute('data-images', ok + '/' + imgs.length);
  document.body.setAttribute('data-errors', String(window.__errors.length));
  var root = document.documentElement;
  var visible = Array.prototype.slice.call(document.querySelectorAll('tr')).filter(function (row) {
    for (var p = row.parentElement; p; p = p.parentElement) {
      if (p.tagName === 'DETAILS' && !p.open) return false;
    }
    return true;
  });
  var first = document.querySelector('table'), summary = document.getElementById('summary-table');
  var sections = Array.prototype.slice.call(document.querySelectorAll('h2[id]'))
    .map(function (h) { return h.id; });
  document.body.setAttribute('data-layout', [root.scrollWidth, root.clientWidth, window.innerHeight,
    root.scrollHeight, visible.length, first ? first.id || '-' : '-',
    summary ? Math.ceil(summary.getBoundingClientRect().bottom) : -1, sections.join(' '),
    summary ? summary.parentElement.scrollWidth - summary.parentElement.clientWidth : -1].join(','));
});
</script>"""


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp / 'profile'}", "--enable-logging=stderr", "--v=0", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _probe(html_path: Path, tmp: Path, *args: str) -> tuple[str, str, str, str]:
    """``(data-images, data-errors, stderr, <body> tag)`` of the page with the probe script (``args``: more
    flags)."""
    probed = tmp / f"probed_{html_path.name}"
    probed.write_text(
        html_path.read_text(encoding="utf-8").replace("<head>", "<head>" + PROBE, 1), encoding="utf-8"
    )
    result = _chromium(tmp, *args, "--virtual-time-budget=10000", "--dump-dom", probed.as_uri())
    body = re.search(r"<body[^>]*>", result.stdout)
    assert body, f"no DOM dumped: {result.stderr[-2000:]}"
    images = re.search(r'data-images="([^"]*)"', body.group(0))
    errors = re.search(r'data-errors="([^"]*)"', body.group(0))
    assert images and errors, f"probe did not run: {body.group(0)}"
    return images.group(1), errors.group(1), result.stderr, body.group(0)


def _layout(html_path: Path, tmp: Path, width: int = 1280) -> dict[str, object]:
    """The probe's layout figures of the page in a ``width`` × 900 window."""
    _, _, _, body = _probe(html_path, tmp, f"--window-size={width},900")
    found = re.search(r'data-layout="([^"]*)"', body)
    assert found, body
    width, client, screen, height, rows, first, bottom, sections, scroll = found.group(1).split(",")
    return {
        "width": int(width), "client": int(client), "screen": int(screen), "height": int(height),
        "rows": int(rows), "first": first, "summary_bottom": int(bottom), "sections": sections.split(),
        "summary_scroll": int(scroll),
    }  # fmt: skip


def test_report_renders_in_chromium(fake_report, tmp_path):
    images, errors, stderr, _ = _probe(fake_report, tmp_path)
    assert images == "6/6" and errors == "0"  # the 6th: the whole-sequence LV curves
    assert 'id="sequences"' in fake_report.read_text(encoding="utf-8")
    assert "Uncaught" not in stderr
    assert not re.search(r"CONSOLE.*(error|Error)", stderr)
    shot = tmp_path / "shot.png"
    result = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", fake_report.as_uri())
    assert shot.is_file(), result.stderr[-2000:]
    with Image.open(io.BytesIO(shot.read_bytes())) as image:
        pixels = np.asarray(image.convert("L"), dtype=np.float32)
    assert pixels.shape == (2000, 1280)
    assert pixels.std() > 20  # text, tables and figures, not a blank page
    assert (pixels < 128).mean() > 0.01


def test_report_layout_at_1280_px(fake_report, tmp_path):
    layout = _layout(fake_report, tmp_path)
    assert layout["client"] >= 1200  # the window really is 1280 px wide (less a scroll bar)
    assert layout["width"] <= layout["client"], layout  # no horizontal overflow
    assert layout["first"] == "summary-table"  # the summary table before any other table
    assert 0 < layout["summary_bottom"] <= layout["screen"], layout  # ... and within the first screen
    assert layout["summary_scroll"] == 0, layout  # ... whole, not scrolled in its box
    assert layout["sections"] == list(SECTIONS), layout  # every section, in reading order
    assert layout["rows"] <= 100, layout  # table rows visible before any <details> is opened


def test_print_stylesheet_fits_an_a4_page(fake_report, tmp_path):
    """The print rules applied on screen (``@media print`` → ``all``) in a window as wide as A4 less its
    15 mm margins (180 mm ≈ 680 px): no table runs past the page's right edge."""
    text = fake_report.read_text(encoding="utf-8")
    assert text.count("@media print{") == 1
    printed = tmp_path / "printed.html"
    printed.write_text(text.replace("@media print{", "@media all{"), encoding="utf-8")
    layout = _layout(printed, tmp_path, width=700)
    assert layout["width"] <= layout["client"], layout


def test_layout_probe_sees_overflow_and_hidden_rows(tmp_path):
    page = tmp_path / "wide.html"
    cells = "".join(f"<td>{'x' * 40}</td>" for _ in range(8))
    page.write_text(
        "<!DOCTYPE html><html><head></head><body><h2 id='a'>a</h2><table id='t'><tr>"
        f"{cells}</tr></table><details><summary>more</summary><table><tr><td>1</td></tr><tr><td>2</td>"
        "</tr></table></details></body></html>"
    )
    layout = _layout(page, tmp_path)
    assert layout["width"] > layout["client"] + 500  # 8 × 40 characters do not fit in 1280 px
    assert layout["first"] == "t" and layout["rows"] == 1 and layout["sections"] == ["a"]


def test_probe_sees_a_broken_image(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text(
        '<!DOCTYPE html><html><head></head><body><img src="data:image/png;base64,AAAA"></body></html>'
    )
    images, errors, _, _ = _probe(page, tmp_path)
    assert images == "0/1" and errors == "1"
