"""A core file as a :class:`heapspurs.scan.raw.RawScan`: the arrays the dump scan fills, filled
from the core stage's readers, so that :func:`heapspurs.index.heap_index.build_index` indexes a
core as it indexes a dump.

What each part of the scan is, for a core:

- ``params``: linux/amd64 (8-byte little-endian words), the program's Go version (its build
  info: ``runtime.buildVersion``, which the dump writes), ``runtime.numCPUStartup``
  (``runtime.ncpu`` before Go 1.25), and the heap's bounds as ``runtime.dumpparams`` gives
  them (the heap arenas holding objects, whole arenas).
- objects (:mod:`heapspurs.core.heap`, :mod:`heapspurs.core.pointers`): address, size and
  pointer slots (CSR), already in address order; ``obj_off`` is where the object's bytes are in
  the core file, so that :meth:`HeapIndex.contents` reads them from the core as it reads a
  dump's. An object not held whole by one ``PT_LOAD`` segment's file bytes is an error (a
  truncated core).
- data and BSS segments (:mod:`heapspurs.core.globals`), their ``contents_offset`` in the core.
- goroutines (:mod:`heapspurs.core.goroutines`): every goroutine not dead, in ``allgs`` order,
  as the dump's goroutine records (``runtime.dumpgoroutine``'s fields).
- frames (:mod:`heapspurs.core.unwind`): each goroutine's frames after it, innermost first,
  with their bytes' offset in the core and their pointer slots (:mod:`heapspurs.core.stackmaps`).
- itabs (:mod:`heapspurs.core.itabs`): ``runtime.itabTable``'s, as ``runtime.dumpitabs``.
- finalizers (registered and queued), defers and panics (:mod:`heapspurs.core.specials`).
- other roots: none yet.
"""

from __future__ import annotations

import numpy as np

from heapspurs.core import specials
from heapspurs.core.elf_core import CoreFile, open_core
from heapspurs.core.errors import CoreFileError
from heapspurs.core.goroutines import CoreGoroutine
from heapspurs.core.heap import heap_objects, runtime_layout
from heapspurs.core.itabs import itab_records
from heapspurs.core.layouts import RuntimeTypes
from heapspurs.core.memory import AddressSpace, open_address_space
from heapspurs.core.pointers import pointer_layout, pointer_slots
from heapspurs.core.roots import CoreRoots, roots_of
from heapspurs.core.stackmaps import frame_slots
from heapspurs.core.unwind import FuncTable
from heapspurs.format.records import Goroutine, Params
from heapspurs.scan.raw import RawScan, SegmentInfo, offset_dtype

PTR_SIZE = 8
ARCH = "amd64"  # the only platform the core reader reads
# runtime/malloc.go heapArenaBytes on linux/amd64 (64 MiB): runtime.dumpparams gives the heap's
# bounds as whole arenas.
HEAP_ARENA_BYTES = 64 << 20
# What runtime.dumpparams writes as the CPU count: numCPUStartup from Go 1.25, ncpu before.
NCPU = ("runtime.numCPUStartup", "runtime.ncpu")
# Goroutines the runtime counts as its own (runtime.isSystemGoroutine): those whose function is
# the runtime's, but these, which run the program's code (its main goroutine, wasm's async
# events, coroutines).
USER_RUNTIME_FUNCTIONS = {"runtime.main", "runtime.handleAsyncEvent", "runtime.corostart"}


def _file_runs(core: CoreFile) -> list[tuple[int, int, int]]:
    """(address, bytes, file offset) of the runs of memory the core file holds in one piece:
    segments that follow each other both in memory and in the file are one run (a mapping's
    pages and the next mapping's, e.g. the BSS's first page, file-backed, and its others)."""
    runs: list[list[int]] = []
    for s in core.segments:
        if s.filesz == 0:
            continue
        if runs and runs[-1][0] + runs[-1][1] == s.vaddr and runs[-1][2] + runs[-1][1] == \
                s.offset and runs[-1][3]:
            runs[-1][1] += s.filesz
            runs[-1][3] = s.filesz == s.memsz
        else:
            runs.append([s.vaddr, s.filesz, s.offset, s.filesz == s.memsz])
    return [(a, n, o) for a, n, o, _ in runs] or [(0, 0, 0)]


def file_offsets(core: CoreFile, addr: np.ndarray, size: np.ndarray, what: str) -> np.ndarray:
    """Where the bytes ``[addr, addr + size)`` of each range are in the core file (int64); a
    :class:`CoreFileError` naming the first range the file does not hold in one piece."""
    addr = np.asarray(addr, np.uint64)
    size = np.asarray(size, np.uint64)
    if len(addr) == 0:
        return np.zeros(0, np.int64)
    vaddr, filesz, offset = (np.array(c, dt) for c, dt in zip(
        zip(*_file_runs(core), strict=True), (np.uint64, np.uint64, np.int64), strict=True))
    i = np.searchsorted(vaddr, addr, side="right").astype(np.int64) - 1
    safe = np.maximum(i, 0)
    rel = addr - vaddr[safe]  # wraps (huge) where i < 0: caught below
    held = (i >= 0) & (addr >= vaddr[safe]) & (rel + size <= filesz[safe])
    if not held.all():
        k = int(np.argmin(held))
        a, n = int(addr[k]), int(size[k])
        raise CoreFileError(f"{core.path}: {what} at {a:#x} ({n} bytes) is not all in the core "
                            f"file in one piece (it holds {core.held(a)} bytes from there in one "
                            "segment): a "
                            "truncated core")
    return offset[safe] + rel.astype(np.int64)


def is_system_goroutine(name: str | None) -> bool:
    """``runtime.isSystemGoroutine(gp, false)`` by the name of the goroutine's function: the
    runtime's own (its finalizer goroutine too: while it runs a finalizer it is the program's,
    :func:`heapspurs.core.specials.running_finalizer_goroutine`)."""
    return bool(name) and name.startswith("runtime.") and name not in USER_RUNTIME_FUNCTIONS


def goroutine_record(g: CoreGoroutine, system: bool) -> Goroutine:
    """The heap dump's record of ``g`` (``runtime.dumpgoroutine``)."""
    return Goroutine(address=g.address, sp=g.sp, goid=g.goid, gopc=g.gopc, status=g.status,
                     system=system, background=False, wait_since=g.waitsince,
                     wait_reason=g.wait_reason, ctxt=g.ctxt, m=g.m, defer=g.defer,
                     panic=g.panic)


def params_of(space: AddressSpace, rt: RuntimeTypes, addr: np.ndarray,
              size: np.ndarray) -> Params:
    """The dump's params record for the core: its heap bounds are the arenas its objects are
    in (whole arenas, as ``runtime.dumpparams`` gives them)."""
    have = {name for name, _, _ in rt.types.globals}
    ncpu = rt.global_var(next((n for n in NCPU if n in have), NCPU[-1]))
    raw = space.read(ncpu.address, ncpu.size)
    start = end = 0
    if len(addr):
        start = int(addr[0]) // HEAP_ARENA_BYTES * HEAP_ARENA_BYTES
        last = int((addr + size).max())
        end = -(-last // HEAP_ARENA_BYTES) * HEAP_ARENA_BYTES
    return Params(big_endian=False, ptr_size=PTR_SIZE, heap_start=start, heap_end=end,
                  arch=ARCH, version=rt.go_version or "",
                  ncpu=int.from_bytes(raw, "little", signed=True))


def _frames(core: CoreFile, roots: CoreRoots, live: list[CoreGoroutine],
            slots: dict[int, list[tuple[np.ndarray, np.ndarray]]]) -> dict[str, object]:
    """The frame arrays of the scan (each goroutine's frames after it, innermost first), with
    their pointer slots (``slots``: per goroutine, per frame, offsets from sp and values)."""
    rows: list[tuple[int, int, int, int, int, int, int, int]] = []
    names: dict[str, int] = {}
    offs: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    for gi, g in enumerate(live):
        child = 0
        for depth, (f, (o, v)) in enumerate(zip(roots.frames[g.address], slots[g.address],
                                                strict=True)):
            rows.append((f.sp, f.size, depth, child, f.entry, f.pc, gi,
                         names.setdefault(f.name, len(names))))
            offs.append(np.asarray(o, np.uint64))
            vals.append(np.asarray(v, np.uint64))
            child = f.sp
    cols = list(zip(*rows, strict=True)) if rows else [()] * 8
    sp, fsize, depth, child, entry, pc, goroutine, name = (
        np.array(c, dt) for c, dt in zip(cols, (np.uint64, np.uint64, np.int32, np.uint64,
                                               np.uint64, np.uint64, np.int32, np.int32),
                                         strict=True))
    n = len(sp)
    return dict(
        frame_sp=sp, frame_size=fsize, frame_off=file_offsets(core, sp, fsize, "a stack frame"),
        frame_depth=depth, frame_child=child, frame_entry=entry, frame_pc=pc,
        frame_goroutine=goroutine, frame_name=name,
        frame_pstart=np.concatenate([[0], np.cumsum([len(o) for o in offs], dtype=np.int64)])
        .astype(np.int64) if n else np.zeros(1, np.int64),
        fptr_off=np.concatenate(offs) if offs else np.zeros(0, np.uint64),
        fptr_val=np.concatenate(vals) if vals else np.zeros(0, np.uint64), names=list(names))


def raw_scan_from_core(core_path: str, program: str) -> RawScan:
    """The :class:`RawScan` of the core file at ``core_path`` taken of ``program``: its objects
    in address order with their offsets in the core file (index it with
    ``build_index(raw, core_path)``); a ValueError naming the file
    (:class:`CoreFileError`, or the names stage's ``BinaryError``) when either is not usable."""
    with open_core(core_path) as core:
        rt = RuntimeTypes(program)
        layout = runtime_layout(program, rt.binary)
        pl = pointer_layout(program, layout, rt.types)
        with open_address_space(core, program) as space:
            heap = heap_objects(space, layout)
            slots = pointer_slots(space, layout, pl, heap)
            roots = roots_of(space, rt)
            params = params_of(space, rt, heap.addr, heap.size)
            itabs = itab_records(space, rt)
            table = FuncTable(space, rt)
            frame_slots_of = {g.address: frame_slots(space, table, rt, roots.frames[g.address])
                              for g in roots.live_goroutines}
            finalizers = (specials.registered_finalizers(space, rt)
                          + specials.queued_finalizers(space, rt))
            defers, panics = specials.defers_and_panics(space, rt, roots.live_goroutines)
            fing = specials.running_finalizer_goroutine(space, rt)  # runs the program's code
        obj_off = file_offsets(core, heap.addr, heap.size, "a heap object")
        segments = []
        for s in roots.segments:
            (off,) = file_offsets(core, np.array([s.address]), np.array([s.size]),
                                  f"the {s.name} segment").tolist() if s.size else (-1,)
            segments.append(SegmentInfo(s.bss, s.address, s.size, off, s.ptr_off, s.ptr_val))
        live = roots.live_goroutines
        goroutines = [goroutine_record(g, is_system_goroutine(
            (rt.binary.symbol(g.startpc) or "").split("+", 1)[0]) and g.address != fing)
                      for g in live]
        frames = _frames(core, roots, live, frame_slots_of)
        max_size = int(heap.size.max()) if len(heap.size) else 0
        return RawScan(
            params=params, file_size=core.size,
            obj_addr=heap.addr, obj_size=heap.size, obj_off=obj_off, obj_pstart=slots.pstart,
            ptr_off=slots.poff.astype(offset_dtype(max_size)), ptr_val=slots.pval,
            **frames, segments=segments, goroutines=goroutines, itabs=itabs,
            finalizers=finalizers, defers=defers, panics=panics, address_order=True)

