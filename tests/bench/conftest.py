"""Bench helpers are imported by name (``bench/`` is on ``sys.path`` when a bench runs): the same here."""

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))
