"""Giving back the pages of cached index arrays that a pass in order has gone past. The arrays
loaded from the cache are read-only mappings of their files: their pages can be dropped (they
stay in the page cache and come back on the next touch), so a listing that reads them from
start to end runs in constant memory, as ``--print`` does over the dump."""

from __future__ import annotations

import mmap

import numpy as np

CAN_RELEASE = hasattr(mmap, "MADV_DONTNEED")


def _mapping(a: np.ndarray) -> tuple[mmap.mmap, int] | None:
    """(the read-only file mapping under ``a``, offset of ``a[0]`` in it), or None."""
    mm = getattr(a, "_mmap", None)  # numpy.memmap (np.load with mmap_mode) keeps its mapping
    if not CAN_RELEASE or not isinstance(mm, mmap.mmap) or a.flags.writeable or not len(a):
        return None
    base = np.frombuffer(mm, np.uint8).ctypes.data
    offset = a.ctypes.data - base
    return (mm, offset) if 0 <= offset <= len(mm) - a.nbytes else None


class PagesBehind:
    """Drops the resident pages of arrays (those that are file mappings) below a position
    that only grows."""

    def __init__(self, *arrays: np.ndarray):
        self._maps = [(_mapping(a), a.itemsize) for a in arrays]
        self._done = [0] * len(arrays)

    def release(self, count: int) -> None:
        """Give back the pages holding only elements below ``count`` of every array."""
        for i, (m, itemsize) in enumerate(self._maps):
            if m is None:
                continue
            mm, offset = m
            end = (offset + count * itemsize) // mmap.PAGESIZE * mmap.PAGESIZE
            start = max(self._done[i], offset // mmap.PAGESIZE * mmap.PAGESIZE)
            if end > start:
                mm.madvise(mmap.MADV_DONTNEED, start, end - start)
                self._done[i] = end
