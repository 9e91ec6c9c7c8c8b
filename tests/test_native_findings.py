"""Regression tests for what the sanitized fuzzing of the native code found
(scripts/fuzz-native.sh, fuzz/native/): each one a small hand-made input that made a C
function read or write out of bounds, or overflow, before its fix. Each call runs in a
subprocess of its own, so that a regression is a failed test rather than a crashed run."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_isolated(code: str) -> str:
    """Run ``code`` (which prints its verdict) in a fresh interpreter; its stdout."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"exit status {proc.returncode}\n{proc.stdout}{proc.stderr}"
    return proc.stdout.strip()


def native(module: str) -> None:
    pytest.importorskip(module, reason=f"{module} not built")


def test_gather_start_near_int64_max_is_refused():
    # Fuzz finding (arrays): new_pstart[i] near INT64_MAX made ``d + (e - s)`` overflow, so
    # the bound check passed (with -fwrapv) and memcpy wrote at d * 8 bytes past the array.
    native("heapspurs.scan._cscan")
    out = run_isolated("""
        import numpy as np
        from heapspurs.scan import _cscan
        n, m = 1, 7
        order = np.zeros(1, np.int64)
        old = np.array([0, 7], np.int64)
        new = np.array([2**63 - 1, -(2**63) + 6], np.int64)  # new[1] - new[0] wraps to 7
        off, val = np.zeros(m, np.uint64), np.zeros(m, np.uint64)
        try:
            _cscan.gather(order, old, new, off, val, np.zeros(m, np.uint64),
                          np.zeros(m, np.uint64), n, m, 8)
            print("accepted")
        except ValueError as e:
            print("refused:", e)
    """)
    assert out == "refused: inconsistent pointer arrays"
