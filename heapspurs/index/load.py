"""Get the index of a dump: scan it and build the arrays."""

from __future__ import annotations

from heapspurs.index.heap_index import HeapIndex, build_index
from heapspurs.scan.python_scan import scan_python


def load_index(path: str, use_cache: bool = True) -> HeapIndex:
    """The index of the dump at ``path`` (``use_cache`` is honoured once the cache exists)."""
    return build_index(scan_python(path), path)
