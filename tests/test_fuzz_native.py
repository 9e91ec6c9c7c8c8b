"""A short sanitized run of every native fuzz target (scripts/fuzz-native.sh all N): the C
extensions built with AddressSanitizer + UBSan, libFuzzer mutating real dumps, index arrays
and DWARF sections for N seconds each; any sanitizer report, crash or hang fails the test.

It installs clang (Debian) and atheris (.fuzz-venv) when they are missing and takes a few
minutes, so it runs in CI (CI=true) or when asked (HEAPSPURS_FUZZ_NATIVE=1); elsewhere it is
skipped. HEAPSPURS_FUZZ_SECONDS sets N (default 25)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ASKED = os.environ.get("CI") == "true" or os.environ.get("HEAPSPURS_FUZZ_NATIVE") == "1"


@pytest.mark.skipif(not ASKED, reason="the sanitized native fuzz smoke (scripts/fuzz-native.sh "
                    "all 25: installs clang and atheris, ~3 min) runs in CI (CI=true) or with "
                    "HEAPSPURS_FUZZ_NATIVE=1")
def test_native_fuzz_smoke():
    seconds = os.environ.get("HEAPSPURS_FUZZ_SECONDS", "25")
    proc = subprocess.run(["bash", "scripts/fuzz-native.sh", "all", seconds], cwd=ROOT,
                          capture_output=True, text=True, timeout=3600)
    report = proc.stdout + proc.stderr[-20000:]
    assert proc.returncode == 0, report
    figures = dict(re.findall(r"^target=(\w+) .*executions=(\d+)", proc.stdout, re.M))
    assert set(figures) == {"dump", "arrays", "dwarf"}, report
    assert all(int(n) > 100 for n in figures.values()), report
    assert "findings=0" in proc.stdout and "findings=1" not in proc.stdout, report
