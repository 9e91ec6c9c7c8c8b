"""Put a scan's objects in address order (ties in file order), with their pointer slots moved
along: the order the index works in. The native scan writes that order itself; this sorts the
pure-Python scan's file-order arrays (and is the specification the native scan is tested
against)."""

from __future__ import annotations

import numpy as np

from heapspurs.scan.native_scan import _cscan
from heapspurs.scan.raw import RawScan


def gather_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenate ``arange(s, s + c)`` for each (s, c), without a Python loop."""
    counts = counts.astype(np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    ends = np.cumsum(counts)
    offsets = np.repeat(starts.astype(np.int64) - (ends - counts), counts)
    return offsets + np.arange(total, dtype=np.int64)


def in_address_order(raw: RawScan) -> RawScan:
    """``raw`` with its object arrays sorted by address (in place; each file-order array is
    dropped as soon as its sorted copy exists, for peak memory)."""
    if raw.address_order:
        return raw
    order = np.argsort(raw.obj_addr, kind="stable").astype(np.int64, copy=False)
    raw.obj_addr = raw.obj_addr[order]
    raw.obj_size = raw.obj_size[order]
    raw.obj_off = raw.obj_off[order]
    counts = np.diff(raw.obj_pstart)[order]
    pstart = np.zeros(len(order) + 1, np.int64)
    np.cumsum(counts, out=pstart[1:])
    del counts
    if _cscan is not None:
        m = len(raw.ptr_off)
        poff = np.empty(m, raw.ptr_off.dtype)
        pval = np.empty(m, np.uint64)
        _cscan.gather(order, raw.obj_pstart, pstart, raw.ptr_off, raw.ptr_val, poff, pval,
                      len(order), m, poff.itemsize)
    else:
        gather = gather_ranges(raw.obj_pstart[:-1][order], np.diff(pstart))
        poff, pval = raw.ptr_off[gather], raw.ptr_val[gather]
        del gather
    raw.ptr_off, raw.ptr_val, raw.obj_pstart = poff, pval, pstart
    raw.address_order = True
    return raw
