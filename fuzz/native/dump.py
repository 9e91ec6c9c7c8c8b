"""Target ``dump``: mutated heap dumps through every native function that reads one.

The input is a dump without its 16-byte header (the harness puts it back, so no mutation is
spent on it). Each input goes through

- ``_cscan.scan``: the counting pass (keeping addresses for address order), then the filling
  pass in parts that start at the counting pass's checkpoints, in address order and in file
  order, as heapspurs.scan.native_scan drives it;
- ``_cscan.format``: --print's lines from the first record on, in both pointer sizes and byte
  orders, with a names table of the objects and a table of the memory-profile buckets;
- when the scan succeeds, the index-level functions on the arrays it filled: ``resolve`` (the
  plain search and the page table), ``phantoms``, ``reverse``, ``gather``, ``listing`` in its
  three modes, and ``_cgraph.bfs``, ``_cgraph.dominators`` and ``_cgraph.labels``.

Errors that heapspurs reports to the user (a malformed dump, inconsistent arrays) are expected;
only a sanitizer report, a crash or a hang is a finding.
"""

from __future__ import annotations

import numpy as np

# Array order of _cscan.scan's output buffers: the one the scan's Python side declares.
from heapspurs.scan.native_scan import _LAYOUT as LAYOUT

HEADER = b"go1.7 heap dump\n"

MAX_INPUT = 1 << 20

_cscan = _cgraph = None


def setup(modules: dict) -> None:
    global _cscan, _cgraph
    _cscan, _cgraph = modules["_cscan"], modules["_cgraph"]


def _fill(buf: bytes, first: tuple, seen: tuple | None) -> dict | None:
    """The filling pass of native_scan.scan_native, its parts run one after another."""
    (n_obj, n_ptr, n_frame, n_fptr, n_other, n_sample, n_records, _, max_size, kept,
     checkpoints) = first
    off32 = max_size < 2**32
    lengths = {"obj": n_obj, "obj+1": n_obj + 1, "ptr": n_ptr, "frame": n_frame,
               "frame+1": n_frame + 1, "fptr": n_fptr, "other": n_other, "sample": n_sample}
    arrays = {name: np.zeros(lengths[key], np.uint32 if name == "ptr_off" and off32 else dtype)
              for name, dtype, key in LAYOUT}
    extra: tuple = ()
    if kept and seen is not None:
        order = np.argsort(seen[0][:n_obj], kind="stable")
        pstart = np.zeros(n_obj + 1, np.int64)
        np.cumsum(seen[1][:n_obj][order], out=pstart[1:])
        rank = np.empty(n_obj, np.int64)
        rank[order] = np.arange(n_obj, dtype=np.int64)
        arrays["obj_pstart"] = pstart
        extra = (rank, pstart)
    fill = ((n_obj, n_ptr, n_frame, n_fptr, n_other, n_sample, off32),
            tuple(arrays[name] for name, _, _ in LAYOUT) + extra)
    # Parts from every other checkpoint (the resume path), ending where the next one starts.
    starts = checkpoints[::2] or [None]
    stops = [cp[0] for cp in starts[1:]] + [-1]
    for start, stop in zip(starts, stops, strict=True):
        if start is None:
            result = _cscan.scan(buf, len(HEADER), fill, False)
        else:
            result = _cscan.scan(buf, len(HEADER), fill, False, None, (*start, stop))
        if isinstance(result[0], str):
            return None
    return arrays


def _names(addr: np.ndarray, size: np.ndarray) -> tuple:
    """A names table (names/table.py c_arrays()) with a row per object, labels "o<i>"."""
    order = np.argsort(addr, kind="stable")
    starts = np.ascontiguousarray(addr[order], np.uint64)
    ends = np.ascontiguousarray(starts + size[order], np.uint64)
    labels = [f"o{i}".encode() + (b" (static)" if i % 3 == 0 else b"") for i in range(len(order))]
    offsets = np.zeros(len(labels), np.int64)
    if labels:
        np.cumsum([len(s) + 1 for s in labels[:-1]], out=offsets[1:])
    return starts, ends, offsets, b"\0".join(labels) + b"\0"


def _print(buf: bytes, names: tuple | None, buckets: tuple | None) -> None:
    for is64, big in ((True, False), (False, True)):
        pos = len(HEADER)
        for _ in range(64):  # the records the C side leaves to Python end the walk
            _, nxt, done = _cscan.format(buf, pos, is64, big, 1 << 14, -1, names, buckets)
            if not done or nxt <= pos:
                break
            pos = nxt


def _index(arrays: dict) -> None:
    addr, size = arrays["obj_addr"], arrays["obj_size"]
    pstart, pval, poff = arrays["obj_pstart"], arrays["ptr_val"], arrays["ptr_off"]
    n, m = len(addr), len(pval)
    if not np.all(addr[1:] >= addr[:-1]):  # file order: put it in address order as the index does
        order = np.argsort(addr, kind="stable").astype(np.int64)
        counts = np.diff(pstart)[order]
        new_pstart = np.zeros(n + 1, np.int64)
        np.cumsum(counts, out=new_pstart[1:])
        npoff, npval = np.empty_like(poff), np.empty(m, np.uint64)
        try:
            _cscan.gather(order, pstart, new_pstart, poff, pval, npoff, npval, n, m,
                          poff.itemsize)
        except ValueError:
            return
        addr, size, pstart, poff, pval = addr[order], size[order], new_pstart, npoff, npval
        addr, size = np.ascontiguousarray(addr), np.ascontiguousarray(size)
    pdst = np.empty(m, np.int32)
    _cscan.resolve(addr, size, pval, pdst, n, m, 1)
    if m and m < 4096:  # the page table is built for 4096 values or more
        many = np.resize(pval, 4096)
        _cscan.resolve(addr, size, many, np.empty(4096, np.int32), n, 4096, 2)
    phantom = np.zeros(n, np.uint8)
    if n:
        npages = int(addr[-1] // 8192 - addr[0] // 8192) + 1
        if npages <= 8 * n + 1024:
            _cscan.phantoms(addr, pstart, size, phantom, n, npages, 16, 128)
    rstart = np.zeros(n + 1, np.int64)
    total = _cscan.reverse(pstart, pdst, phantom, rstart, None, None, n, m, 8, 1)
    rsrc, rptr = np.empty(total, np.int32), np.empty(total, np.int32)
    _cscan.reverse(pstart, pdst, phantom, rstart, rsrc, rptr, n, m, 4, 2)
    roots = np.arange(0, n, 7, dtype=np.int64)
    parent = np.empty(n, np.int64)
    _cgraph.bfs(pstart, pdst, roots, phantom, parent, n, m, len(roots))
    idom, retained = np.empty(n, np.int32), np.empty(n, np.uint64)
    rooted = roots.astype(np.int32)
    _cgraph.dominators(pstart, pdst, rstart, rsrc, rooted, phantom, size, idom, retained, n, m,
                       total, len(rooted))
    out = np.empty(n, np.int32)
    _cgraph.labels(pstart, pdst, phantom, roots, (roots % 3).astype(np.int32), out, n, m,
                   len(roots))
    header = (size > 512).astype(np.uint8)
    index = (addr, size, pstart, poff, pval, pdst, phantom, header)
    names = _names(addr, size)
    label_ids = np.arange(n, dtype=np.int32) % 5 - 1
    blob = b'"a"\0"b\\n"\0["x", "y"]\0'
    column = (label_ids, np.array([0, 4, 10, 21], np.int64), blob)
    objs = np.arange(n, dtype=np.int64)
    for mode in (0, 1, 2):
        _cscan.listing(mode, objs, index, (column, None, column), (names, names), True, -1,
                       1 << 16)


def test_one_input(data: bytes) -> None:
    if len(data) > MAX_INPUT:
        return
    buf = HEADER + data
    room = len(buf) // 16 + 16
    seen = (np.empty(room, np.uint64), np.empty(room, np.uint32))
    first = _cscan.scan(buf, len(HEADER), None, False, seen)
    if isinstance(first[0], str):
        _print(buf, None, None)
        return
    ordered = _fill(buf, first, seen)
    plain = _fill(buf, first, None)
    arrays = ordered or plain
    if arrays is None:
        _print(buf, None, None)
        return
    buckets = None
    if len(arrays["sample_bucket"]):
        b = np.unique(arrays["sample_bucket"])
        buckets = _names(b, np.ones(len(b), np.uint64))
    _print(buf, _names(arrays["obj_addr"], arrays["obj_size"]), buckets)
    for a in (ordered, plain):
        if a is not None:
            try:
                _index(a)
            except ValueError:  # inconsistent arrays: the functions said so, as they should
                pass
