"""Open the report in a real headless Chromium: it renders, every image decodes, no script error.

A copy of the report gets a small probe script (the report itself has none) that, on ``load``, writes to
``<body>`` how many images decoded (``naturalWidth > 0``) and how many errors were seen; ``--dump-dom``
returns the DOM after that. A second run takes a screenshot. A broken image is the negative control.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")

PROBE = """<script>
window.__errors = [];
window.addEventListener('error', function (e) { window.__errors.push(String(e.message || e.type)); }, true);
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute('data-images', ok + '/' + imgs.length);
  document.body.setAttribute('data-errors', String(window.__errors.length));
});
</script>"""


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp / 'profile'}", "--enable-logging=stderr", "--v=0", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _probe(html_path: Path, tmp: Path) -> tuple[str, str, str]:
    """``(data-images, data-errors, stderr)`` of the page with the probe script."""
    probed = tmp / f"probed_{html_path.name}"
    probed.write_text(
        html_path.read_text(encoding="utf-8").replace("<head>", "<head>" + PROBE, 1), encoding="utf-8"
    )
    result = _chromium(tmp, "--virtual-time-budget=10000", "--dump-dom", probed.as_uri())
    body = re.search(r"<body[^>]*>", result.stdout)
    assert body, f"no DOM dumped: {result.stderr[-2000:]}"
    images = re.search(r'data-images="([^"]*)"', body.group(0))
    errors = re.search(r'data-errors="([^"]*)"', body.group(0))
    assert images and errors, f"probe did not run: {body.group(0)}"
    return images.group(1), errors.group(1), result.stderr


def test_report_renders_in_chromium(fake_report, tmp_path):
    images, errors, stderr = _probe(fake_report, tmp_path)
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


def test_probe_sees_a_broken_image(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text(
        '<!DOCTYPE html><html><head></head><body><img src="data:image/png;base64,AAAA"></body></html>'
    )
    images, errors, _ = _probe(page, tmp_path)
    assert images == "0/1" and errors == "1"
