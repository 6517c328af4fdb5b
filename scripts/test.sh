#!/usr/bin/env bash
# Install lunet with its test dependencies (torch first: the CPU build), lint, then run the default test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q torch==2.13.0
python3 -m pip install -q -e '.[dev]'
python3 -m ruff check src tests bench
python3 -m ruff format --check src tests bench
python3 -m pytest -q "$@"
