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


def test_dwarf_units_each_with_its_own_abbreviation_table_take_linear_time():
    # Found reviewing the walker for the fuzz harness: each unit's abbreviation table was
    # looked up by a linear search over the tables met so far, so 11-byte units that each name
    # a table of their own took quadratic time (300,000 units, 3.3 MB: ~30 s; a 40 MB section:
    # hours). Every offset of an all-zero .debug_abbrev is a valid, empty table.
    native("heapspurs.names._cdwarf")
    out = run_isolated("""
        import struct, time
        from heapspurs.names import _cdwarf
        units = 300_000
        info = b"".join(struct.pack("<IHIB", 7, 4, k, 8) for k in range(units))
        start = time.perf_counter()
        rows = _cdwarf.walk(info, bytes(units), b"", b"", b"", b"", b"", -1, None)
        print(round(time.perf_counter() - start, 2), [len(r) for r in rows])
    """)
    seconds, rows = out.split(" ", 1)
    assert rows == "[0, 0, 0, 0, 0, 0, 0, 0, 0]"
    assert float(seconds) < 5, out


def test_reverse_fill_cursor_at_int64_max_is_refused():
    # Fuzz finding (arrays, UBSan): a fill cursor rstart[v] of INT64_MAX was incremented before
    # it was checked, a signed overflow (undefined; with -fwrapv it wrapped and the next check
    # caught it, so no write went astray). Now the cursor is checked before it moves.
    native("heapspurs.scan._cscan")
    out = run_isolated("""
        import numpy as np
        from heapspurs.scan import _cscan
        pstart = np.array([0, 2], np.int64)
        pdst = np.zeros(2, np.int32)  # object 0 points at itself twice
        rstart = np.array([2**63 - 1, 2], np.int64)
        rsrc, rptr = np.zeros(2, np.int32), np.zeros(2, np.int64)
        try:
            _cscan.reverse(pstart, pdst, np.zeros(1, np.uint8), rstart, rsrc, rptr, 1, 2, 8, 1)
            print("accepted")
        except ValueError as e:
            print("refused:", e)
    """)
    assert out == "refused: inconsistent edge arrays"
