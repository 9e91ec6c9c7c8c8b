"""Get the index of a dump: scan it (natively when the extension is built) and build the arrays."""

from __future__ import annotations

import sys

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


def load_index(path: str, use_cache: bool = True) -> HeapIndex:
    """The index of the dump at ``path``: from the on-disk cache when it is there and sound,
    else scanned, built and (with ``use_cache``) saved for next time."""
    if use_cache:
        cached = cache.load(path)
        if cached is not None:
            return cached
    ix = build_index(scan(path), path)
    if use_cache:
        cache.save(ix, path)
    return ix
