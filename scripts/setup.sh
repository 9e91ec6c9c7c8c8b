#!/usr/bin/env bash
# Set up the development environment: a virtualenv in .venv with heapspurs (editable) and its test
# dependencies, and Graphviz's `dot` from Debian when it is missing. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
# -v: the log keeps the compiler's output (pip -q would drop it), shown below if a build failed.
if ! .venv/bin/python -m pip install -v -e '.[test]' >.venv/install.log 2>&1; then
  cat .venv/install.log >&2
  exit 1
fi
.venv/bin/python -c "import heapspurs, click, numpy" # fail loudly if the install did not work
# The C extensions are optional in setup.py (heapspurs falls back to slower Python code), so a
# failed C build does not fail pip: check that each one imports, and show the compiler's errors
# when one does not (or when the log says a build failed). In CI (CI=true) that fails setup.
missing=$(.venv/bin/python -c "from heapspurs.cli.about import native_status
print(' '.join(m for m, _, ok in native_status() if not ok))")
if [ -n "$missing" ] || grep -qE 'building extension .* failed' .venv/install.log; then
  echo "setup: native extensions not built: ${missing:-(an old build is in use)}" >&2
  echo "setup: the C build's errors (whole log: .venv/install.log):" >&2
  grep -E -B3 -A12 'error|building extension .* failed' .venv/install.log | head -300 >&2 \
    || tail -60 .venv/install.log >&2
  if [ "${CI:-}" = true ]; then
    exit 1
  fi
  echo "setup: heapspurs runs without them, slower; heapspurs --version says which are used" >&2
fi
# Byte-compile heapspurs once: an editable install does not, and where PYTHONDONTWRITEBYTECODE is
# set every run would compile its modules again (~40 ms of each answer).
env -u PYTHONDONTWRITEBYTECODE .venv/bin/python -m compileall -q heapspurs >/dev/null
# Debian packages: Graphviz's dot draws the graphs; Chromium is the browser the tests open
# heapdump.svg and the explorer in, chromedriver drives it; gdb's gcore takes the core files of
# running test programs (the tests that need them are skipped without them, and fail in CI).
missing=()
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
command -v gcore >/dev/null 2>&1 || missing+=(gdb)
if [ "${HEAPSPURS_SETUP_BROWSER:-1}" = 1 ]; then
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
    || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${missing[*]} from Debian" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") \
      >/dev/null 2>&1 || echo "setup: could not install ${missing[*]}" >&2
  else
    echo "setup: missing Debian packages: ${missing[*]} (install them for the tests that use them)" >&2
  fi
fi
