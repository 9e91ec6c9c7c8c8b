"""The heap index: objects sorted by address, every pointer resolved to the object containing its
target (interior pointers included), reverse edges, and the roots as a table of root edges.

All of it is numpy arrays (CSR for edge lists); object contents stay in the dump file and are read
through the mmap on demand. Object ids are positions in address order.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass

import numpy as np

from heapspurs.index.budget import Budget
from heapspurs.index.geometry import MALLOC_HEADER, malloc_header_mask, phantom_mask
from heapspurs.index.memo import Memo
from heapspurs.index.workspace import Workspace
from heapspurs.scan.address_order import in_address_order
from heapspurs.scan.native_scan import _cscan
from heapspurs.scan.raw import (
    ROOT_BSS,
    ROOT_DATA,
    ROOT_DEFER,
    ROOT_FINALIZER,
    ROOT_FRAME,
    ROOT_OTHER,
    ROOT_PANIC,
    ROOT_QUEUED_FINALIZER,
    RawScan,
)

CHUNK = 1 << 22  # objects per chunk of the per-object passes done in numpy


def threads() -> int:
    """How many threads the native passes may use (they release the GIL)."""
    return max(1, min(os.cpu_count() or 1, 8))


def resolve_addresses(addr: np.ndarray, size: np.ndarray, values: np.ndarray,
                      native: bool = True) -> np.ndarray:
    """For sorted object addresses and sizes: the id of the object containing each value."""
    values = np.ascontiguousarray(values, dtype=np.uint64)
    if native and _cscan is not None:
        out = np.empty(len(values), np.int32)
        addr = np.ascontiguousarray(addr, np.uint64)
        size = np.ascontiguousarray(size, np.uint64)
        _cscan.resolve(addr, size, values, out, len(addr), len(values), threads())
        return out
    if len(addr) == 0:
        return np.full(len(values), -1, np.int32)
    idx = np.searchsorted(addr, values, side="right").astype(np.int64) - 1
    safe = np.maximum(idx, 0)
    inside = (idx >= 0) & (values - addr[safe] < size[safe])
    return np.where(inside, idx, -1).astype(np.int32)


def ptr_index_dtype(m: int) -> type:
    """The narrowest integer type that indexes ``m`` pointer slots (memory: 12.9 M edges)."""
    return np.int32 if m < 2**31 else np.int64


def reverse_edges(pstart: np.ndarray, pdst: np.ndarray, skip: np.ndarray,
                  native: bool = True, ws: Workspace | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rstart, rsrc, rptr): for each object the (source, pointer index) of edges into it."""
    n = len(pstart) - 1
    if native and _cscan is not None:
        ws = ws or Workspace()
        rstart = ws.zeros("rstart", n + 1, np.int64)
        m = len(pdst)
        skip8 = np.ascontiguousarray(skip).view(np.uint8)
        # Count (rstart becomes the starts), then fill arrays of the exact size, in windows of
        # targets whose random writes fit the budget.
        total = _cscan.reverse(pstart, pdst, skip8, rstart, None, None, n, m, 8, threads())
        rsrc = ws.empty("rsrc", total, np.int32)
        rptr = ws.empty("rptr", total, ptr_index_dtype(m))
        windows = ws.window_count(total * (4 + rptr.itemsize) + 8 * n)
        # Windows of about equal edge counts, from the starts (before the fill moves them).
        bounds = [0, *(min(n, int(np.searchsorted(rstart, total * w // windows)))
                       for w in range(1, windows)), n]
        for w in range(windows):
            if windows > 1:
                ws.note_pass(f"reverse {w + 1}/{windows}")
            _cscan.reverse(pstart, pdst, skip8, rstart, rsrc, rptr, n, m, rptr.itemsize,
                           threads(), bounds[w], max(bounds[w], bounds[w + 1]))
        return rstart, rsrc, rptr
    counts = np.diff(pstart)
    src = np.repeat(np.arange(n, dtype=np.int32), counts)
    keep = (pdst >= 0) & ~skip[src] if n else np.zeros(0, bool)
    kept = np.nonzero(keep)[0]
    rstart, rorder = csr_from_keys(pdst[kept].astype(np.int64), n)
    rptr = kept[rorder]
    return rstart, src[rptr], rptr.astype(ptr_index_dtype(len(pdst)))


def csr_from_keys(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(start[n+1], order) such that order[start[k]:start[k+1]] are the positions with key k."""
    order = np.argsort(keys, kind="stable")
    start = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=start[1:])
    return start, order


def sparse_csr(ws: Workspace, name: str, keys: np.ndarray, n: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`csr_from_keys` for few keys over many objects: the starts (``n + 1``, from
    ``ws``) filled in chunks, with no temporary per object."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order].astype(np.int64)
    start = ws.empty(name, n + 1, np.int64)
    start[0] = 0
    for lo in range(0, n, CHUNK):
        hi = min(n, lo + CHUNK)
        a, b = np.searchsorted(ordered, [lo, hi])
        counts = np.bincount(ordered[a:b] - lo, minlength=hi - lo)
        np.cumsum(counts, out=start[lo + 1 : hi + 1])
        start[lo + 1 : hi + 1] += a
    return start, order


@dataclass
class RootEdges:
    """One row per (root, heap object it points into)."""

    kind: np.ndarray  # uint8 ROOT_*
    ref: np.ndarray  # int32: index of the frame / segment / finalizer / defer / panic record
    slot: np.ndarray  # uint64: address of the pointer slot (for finalizers: the object)
    value: np.ndarray  # uint64: the pointer value
    obj: np.ndarray  # int32: object containing ``value``


class HeapIndex:
    """Everything the analyses need, as arrays. Build with :func:`build_index`."""

    names: object | None = None  # set by heapspurs.names.attach (read with names.naming.names_of)
    cache_folder: object | None = None  # the on-disk cache folder this index lives in, if any
    workspace: Workspace | None = None  # where a fresh build put its arrays (not from the cache)
    budget: Budget | None = None  # the memory the questions about it may spend (--memory)

    def __init__(self, raw: RawScan, path: str):
        self.raw = raw
        self.path = path
        self.params = raw.params
        self.memo = Memo()  # what analyses derive from this index, kept for the run
        self.scratch: list[Workspace] = []  # where whole-heap analyses put arrays over budget
        self._mm: mmap.mmap | None = None

    # ---- contents, read from the dump file on demand ----
    def mapped(self) -> mmap.mmap:
        """The dump file, mapped read-only (once per index)."""
        if self._mm is None:
            with open(self.path, "rb") as f:
                self._mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        return self._mm

    def contents(self, obj: int) -> bytes:
        off = int(self.off[obj])
        return self.mapped()[off : off + int(self.size[obj])]

    def frame_contents(self, frame: int) -> bytes:
        off = int(self.raw.frame_off[frame])
        return self.mapped()[off : off + int(self.raw.frame_size[frame])]

    # ---- lookups ----
    @property
    def count(self) -> int:
        return len(self.addr)

    def resolve(self, values: np.ndarray) -> np.ndarray:
        """Object id containing each address, or -1 (interior addresses resolve to their object)."""
        return resolve_addresses(self.addr, self.size, values)

    def find(self, address: int) -> int:
        return int(self.resolve(np.array([address], np.uint64))[0])

    def neighbours(self, address: int) -> tuple[int, int]:
        """Ids of the nearest objects below and above an address (-1 where none)."""
        i = int(np.searchsorted(self.addr, np.uint64(address), side="right"))
        return (i - 1 if i > 0 else -1), (i if i < len(self.addr) else -1)

    def npointers(self, obj: int) -> int:
        return int(self.pstart[obj + 1] - self.pstart[obj])

    def pointers(self, obj: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(slot offsets, values, target object ids) of one object's pointer slots."""
        s, e = int(self.pstart[obj]), int(self.pstart[obj + 1])
        return self.poff[s:e], self.pval[s:e], self.pdst[s:e]

    def owners_of(self, obj: int) -> tuple[np.ndarray, np.ndarray]:
        """(source object ids, forward pointer indexes) of the objects pointing into ``obj``."""
        s, e = int(self.rstart[obj]), int(self.rstart[obj + 1])
        return self.rsrc[s:e], self.rptr[s:e]

    def roots_of(self, obj: int) -> np.ndarray:
        """Row numbers in ``self.roots`` of the root edges pointing into ``obj``."""
        s, e = int(self.root_start[obj]), int(self.root_start[obj + 1])
        return self.root_order[s:e]

    def frame_name(self, frame: int) -> str:
        return self.raw.names[int(self.raw.frame_name[frame])]

    def goroutine_frames(self, g: int) -> np.ndarray:
        return np.nonzero(self.raw.frame_goroutine == g)[0]


def build_index(raw: RawScan, path: str, ws: Workspace | None = None) -> HeapIndex:
    """Sort, resolve and link the arrays of one scan into a :class:`HeapIndex`, its big arrays
    allocated by ``ws`` (in memory by default)."""
    ws = ws or Workspace()
    ix = HeapIndex(raw, path)
    in_address_order(raw)
    empty = np.zeros(0, np.uint64)
    # The index takes the scan's object arrays over (the scan keeps its other records).
    ix.addr, ix.size, ix.off, ix.pstart = raw.obj_addr, raw.obj_size, raw.obj_off, raw.obj_pstart
    ix.poff, ix.pval = raw.ptr_off, raw.ptr_val
    raw.obj_addr = raw.obj_size = raw.ptr_val = empty
    raw.obj_off = np.zeros(0, np.int64)
    raw.ptr_off = np.zeros(0, raw.ptr_off.dtype)
    raw.obj_pstart = np.zeros(1, np.int64)
    n = len(ix.addr)
    if _cscan is not None and ws.mapped:
        # (Nearly every value is found by a division in its page's run of equal slots, without
        # reading the objects' addresses: one pass, whose random reads are few.)
        ws.note_pass("resolve")
        ix.pdst = ws.empty("pdst", len(ix.pval), np.int32)
        _cscan.resolve(ix.addr, ix.size, ix.pval, ix.pdst, n, len(ix.pval), threads())
    else:
        ix.pdst = ix.resolve(ix.pval)
    version = raw.params.version
    ix.phantom = phantom_mask(ix.addr, ix.size, ix.pstart, version, raw.params.ptr_size,
                              out=ws.empty("phantom", n, bool))
    ix.header = ws.zeros("header", n, bool)
    for lo in range(0, n, CHUNK):  # (in chunks: their temporaries are per object)
        hi = min(n, lo + CHUNK)
        has = ix.pstart[lo + 1 : hi + 1] > ix.pstart[lo:hi]
        past_header = np.zeros(hi - lo, bool)
        past_header[has] = ix.poff[ix.pstart[lo:hi][has]] >= MALLOC_HEADER
        ix.header[lo:hi] = malloc_header_mask(ix.size[lo:hi], has, past_header, version)

    # Reverse edges, leaving out phantoms' (garbage) pointer slots.
    ws.note_pass("reverse")
    ix.rstart, ix.rsrc, ix.rptr = reverse_edges(ix.pstart, ix.pdst, ix.phantom, ws=ws)

    # Goroutine descriptors (runtime.g) are heap objects that point at their defer and panic
    # records; the analyses treat them as the goroutine itself, not as ordinary owners.
    gobj = ix.resolve(np.array([g.address for g in raw.goroutines], np.uint64))
    ix.goroutine_obj = gobj
    ix.is_goroutine = ws.zeros("is_goroutine", n, bool)
    ix.is_goroutine[gobj[gobj >= 0]] = True

    ix.roots = _root_edges(ix, raw)
    ix.root_start, ix.root_order = sparse_csr(ws, "root_start", ix.roots.obj, n)
    return ix


def _root_edges(ix: HeapIndex, raw: RawScan) -> RootEdges:
    kinds: list[np.ndarray] = []
    refs: list[np.ndarray] = []
    slots: list[np.ndarray] = []
    values: list[np.ndarray] = []

    def add(kind: int, ref: np.ndarray | int, slot: np.ndarray | int,
            value: np.ndarray | int) -> None:
        value = np.atleast_1d(np.asarray(value, np.uint64))
        m = len(value)
        kinds.append(np.full(m, kind, np.uint8))
        refs.append(np.broadcast_to(np.asarray(ref, np.int32), (m,)).copy())
        slots.append(np.broadcast_to(np.asarray(slot, np.uint64), (m,)).copy())
        values.append(value)

    for i, seg in enumerate(raw.segments):
        add(ROOT_BSS if seg.bss else ROOT_DATA, i, np.uint64(seg.address) + seg.ptr_off,
            seg.ptr_val)
    fcounts = np.diff(raw.frame_pstart)
    fidx = np.repeat(np.arange(len(fcounts), dtype=np.int32), fcounts)
    add(ROOT_FRAME, fidx, raw.frame_sp[fidx] + raw.fptr_off, raw.fptr_val)
    for i, d in enumerate(raw.defers):
        # The GC scans a goroutine's defer chain as stack roots: the _defer record and its closure.
        add(ROOT_DEFER, i, d.address, [d.address, d.funcval])
    for i, p in enumerate(raw.panics):
        add(ROOT_PANIC, i, p.address, [p.arg_data])
    for i, f in enumerate(raw.finalizers):
        if f.queued:
            # A queued finalizer keeps its object (the argument) and its closure alive.
            add(ROOT_QUEUED_FINALIZER, i, f.object, [f.object, f.funcval])
        else:
            # A registered finalizer keeps alive what its object points to, not the object itself.
            targets = [f.funcval]
            obj = ix.find(f.object)
            if obj >= 0:
                targets.extend(int(v) for v in ix.pointers(obj)[1])
            add(ROOT_FINALIZER, i, f.object, targets)
    for i, r in enumerate(raw.other_roots):
        add(ROOT_OTHER, i, 0, [r.address])

    value = np.concatenate(values) if values else np.zeros(0, np.uint64)
    obj = ix.resolve(value)
    keep = obj >= 0
    def cat(parts, dt):
        return (np.concatenate(parts)[keep] if parts else np.zeros(0, dt))
    return RootEdges(kind=cat(kinds, np.uint8), ref=cat(refs, np.int32),
                     slot=cat(slots, np.uint64), value=value[keep], obj=obj[keep])
