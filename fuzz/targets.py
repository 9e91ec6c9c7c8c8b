"""What one fuzz input runs through, and what counts as a failure."""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np

from heapspurs.format.errors import DumpFormatError
from heapspurs.format.reader import DumpReader
from heapspurs.scan.address_order import in_address_order
from heapspurs.scan.native_scan import AVAILABLE as NATIVE
from heapspurs.scan.native_scan import scan_native
from heapspurs.scan.python_scan import scan_python

SECONDS_PER_MB = 2.0
SLACK = 0.5  # seconds for any input (start-up costs)


class Finding(Exception):
    """A crash (an exception other than DumpFormatError), a disagreement, or a hang."""


def _run_reader(path: str) -> str:
    with DumpReader(path) as reader:
        n = sum(1 for _ in reader.records())
    return f"{n} records"


def _arrays(raw) -> dict[str, np.ndarray]:
    return {k: v for k, v in vars(raw).items() if isinstance(v, np.ndarray)}


def _run_scan(path: str) -> str:
    """Native and Python scans: the same error, or the same arrays."""
    outcomes = []
    scans = [scan_python] + ([scan_native] if NATIVE else [])
    for scan in scans:
        try:
            outcomes.append(("ok", scan(path)))
        except DumpFormatError as e:
            outcomes.append(("error", str(e)))
    if len(outcomes) == 2:
        (ka, a), (kb, b) = outcomes
        if ka != kb:
            raise Finding(f"scans disagree: python {ka}: {a if ka == 'error' else ''}; "
                          f"native {kb}: {b if kb == 'error' else ''}")
        if ka == "error" and a != b:
            raise Finding(f"scans give different errors: {a!r} vs {b!r}")
        if ka == "ok":
            # The native scan writes objects in address order; the Python scan in file order.
            pa, pb = _arrays(in_address_order(a)), _arrays(in_address_order(b))
            for name in pa:
                if not np.array_equal(pa[name], pb[name]):
                    raise Finding(f"scans disagree on {name}")
    return outcomes[0][0]


def _run_index(path: str) -> str:
    from heapspurs.analysis.anchors import find_anchors
    from heapspurs.analysis.dominators import dominator_tree
    from heapspurs.index.load import load_index

    ix = load_index(path, use_cache=False)
    for obj in (0, ix.count // 2, ix.count - 1):
        if 0 <= obj < ix.count:
            find_anchors(ix, obj)
    dominator_tree(ix)
    return f"{ix.count} objects"


TARGETS = {"reader": _run_reader, "scan": _run_scan, "index": _run_index}


def run_one(target: str, data: bytes, patience: float = 1.0) -> tuple[str, float]:
    """Run ``target`` on ``data``; (outcome, seconds). Raises Finding on a failure; an input
    slower than ``patience`` times the time limit is one (a busy machine wants patience > 1)."""
    fd, path = tempfile.mkstemp(prefix="heapspurs-fuzz-", suffix=".dump")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        start = time.perf_counter()
        try:
            outcome = TARGETS[target](path)
        except DumpFormatError as e:
            outcome = f"error: {str(e)[:60]}"
        except Finding:
            raise
        except Exception as e:  # noqa: BLE001 - any other exception is what we hunt
            raise Finding(f"{type(e).__name__}: {e}") from e
        took = time.perf_counter() - start
        limit = patience * (SLACK + SECONDS_PER_MB * len(data) / 1e6)
        if took > limit:
            raise Finding(f"slow: {took:.2f} s for {len(data)} bytes (limit {limit:.2f} s)")
        return outcome, took
    finally:
        os.unlink(path)
