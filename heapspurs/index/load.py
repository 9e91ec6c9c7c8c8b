"""Get the index of a dump: scan it (natively when the extension is built) and build the arrays."""

from __future__ import annotations

import sys
from collections.abc import Callable

from heapspurs.format.errors import about
from heapspurs.index import cache
from heapspurs.index.heap_index import HeapIndex, build_index
from heapspurs.scan.native_scan import AVAILABLE as NATIVE
from heapspurs.scan.native_scan import scan_native
from heapspurs.scan.python_scan import scan_python
from heapspurs.scan.raw import RawScan

_warned = False


def scan(path: str) -> RawScan:
    """One pass over the dump: the native scan, or the (slow) Python one with a notice."""
    global _warned
    if NATIVE:
        return scan_native(path)
    if not _warned:
        print("heapspurs: native scan not built (no C compiler at install time?); using the "
              "slower pure-Python scan", file=sys.stderr)
        _warned = True
    return scan_python(path)


STAGES = ("scan", "index", "save")


def load_index(path: str, use_cache: bool = True,
               progress: Callable[[str], None] | None = None) -> HeapIndex:
    """The index of the dump at ``path``: from the on-disk cache when it is there and sound,
    else scanned, built and (with ``use_cache``) saved for next time. ``progress`` is called
    with the name of each stage of ``STAGES`` as it ends."""
    step = progress or (lambda stage: None)
    if use_cache:
        cached = cache.load(path)
        if cached is not None:
            return cached
    with about(path):  # every error of the scan names this dump
        raw = scan(path)
        step("scan")
        ix = build_index(raw, path)
    step("index")
    if use_cache:
        cache.save(ix, path)
    step("save")
    return ix
