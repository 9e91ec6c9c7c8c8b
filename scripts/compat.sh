#!/usr/bin/env bash
# Run the tests that read real dumps against all seven Go releases heapspurs supports (each
# toolchain is installed from PyPI once and cached with the test programs' dumps). CI runs the
# default three (oldest, a swiss-map one, newest); this runs them all:
#     bash scripts/compat.sh            # or: bash scripts/compat.sh tests/test_anchors.py
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VERSIONS=1.21.13,1.22.10,1.23.9,1.24.11,1.25.5,1.26.6,1.27.3
if [ $# -eq 0 ]; then
  set -- tests/test_print.py tests/test_anchors.py tests/test_reachability.py \
    tests/test_native_scan.py tests/test_names.py tests/test_retention.py \
    tests/test_allocations.py tests/test_types.py
fi
exec .venv/bin/python -m pytest -q -ra --go-versions="$VERSIONS" "$@"
