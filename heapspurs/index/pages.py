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


def mappings_in(obj: object, depth: int = 5, found: dict[int, mmap.mmap] | None = None
                ) -> dict[int, mmap.mmap]:
    """The read-only file mappings under the arrays that ``obj`` holds (its attributes, the
    values of its dicts, lists and tuples, ``depth`` levels down), by identity."""
    found = {} if found is None else found
    if isinstance(obj, mmap.mmap):  # (the dump itself)
        found[id(obj)] = obj
        return found
    if isinstance(obj, np.ndarray):
        mm = getattr(obj, "_mmap", None)
        if CAN_RELEASE and isinstance(mm, mmap.mmap) and not obj.flags.writeable:
            found[id(mm)] = mm
        return found
    if depth <= 0 or isinstance(obj, (str, bytes, int, float, type(None))):
        return found
    if isinstance(obj, dict):
        items = list(obj.values())
    elif isinstance(obj, (list, tuple)):
        items = list(obj) if len(obj) < 64 else []
    else:
        items = list(getattr(obj, "__dict__", {}).values())
    for item in items:
        mappings_in(item, depth - 1, found)
    return found


def release_all(*objs: object) -> None:
    """Drop every resident page of the file mappings that ``objs`` hold (an index, the answers
    kept for it): they come back from the page cache on the next touch. The explorer does this
    between requests, so that it holds what an answer needs while it is answered, not every page
    every answer ever touched."""
    found: dict[int, mmap.mmap] = {}
    for obj in objs:
        mappings_in(obj, found=found)
    for mm in found.values():
        try:
            mm.madvise(mmap.MADV_DONTNEED)
        except (OSError, ValueError):
            pass


SAVE_PIECE = 16 << 20  # bytes written at a time by save_npy


def save_npy(f, a: np.ndarray) -> None:
    """``np.save`` of a 1-d array in pieces, giving back the pages of ``a`` behind each piece
    where it is a file mapping: np.save would hand the whole mapping to one write(), whose
    page faults bring all of it in at once, past any memory budget."""
    a = np.ascontiguousarray(a)
    np.lib.format.write_array_header_1_0(f, np.lib.format.header_data_from_array_1_0(a))
    if a.ndim == 0:
        f.write(a.tobytes())
        return
    behind = PagesBehind(a)
    step = max(1, SAVE_PIECE // max(1, a.itemsize))
    for i in range(0, len(a), step):
        f.write(a[i:i + step].tobytes())
        behind.release(i + step)
