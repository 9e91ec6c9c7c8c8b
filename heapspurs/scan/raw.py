"""The result of one pass over a dump: flat arrays, before any pointer is resolved, and the root
kinds the later stages share.

Both scanners fill exactly this structure (:mod:`heapspurs.scan.python_scan` in file order,
:mod:`heapspurs.scan.native_scan` with the objects already in address order, see
``RawScan.address_order``), so the index builder does not care which one ran and a differential
test can compare them field by field.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from heapspurs.format.records import (
    Defer,
    Finalizer,
    Goroutine,
    Itab,
    MemProfBucket,
    MemStats,
    OSThread,
    OtherRoot,
    Panic,
    Params,
    Segment,
    TypeRecord,
)

# Root kinds, shared by the scan, the index and the answers.
ROOT_DATA = 1
ROOT_BSS = 2
ROOT_FRAME = 3
ROOT_DEFER = 4
ROOT_PANIC = 5
ROOT_FINALIZER = 6
ROOT_QUEUED_FINALIZER = 7
ROOT_OTHER = 8

def offset_dtype(max_object_size: int) -> type:
    """Pointer slot offsets fit in 32 bits unless some object is larger than 4 GiB."""
    return np.uint32 if max_object_size <= 2**32 else np.uint64


ROOT_KIND_NAMES = {
    ROOT_DATA: "data",
    ROOT_BSS: "bss",
    ROOT_FRAME: "frame",
    ROOT_DEFER: "defer",
    ROOT_PANIC: "panic",
    ROOT_FINALIZER: "finalizer",
    ROOT_QUEUED_FINALIZER: "queued_finalizer",
    ROOT_OTHER: "other",
}


@dataclass
class SmallTables:
    """The records that are few (everything but objects, frames and allocation samples), in
    file order; both scans collect them with :meth:`add`."""

    segments: list[SegmentInfo] = field(default_factory=list)
    goroutines: list[Goroutine] = field(default_factory=list)
    finalizers: list[Finalizer] = field(default_factory=list)
    defers: list[Defer] = field(default_factory=list)
    panics: list[Panic] = field(default_factory=list)
    other_roots: list[OtherRoot] = field(default_factory=list)
    types: list[TypeRecord] = field(default_factory=list)
    itabs: list[Itab] = field(default_factory=list)
    threads: list[OSThread] = field(default_factory=list)
    buckets: list[MemProfBucket] = field(default_factory=list)
    memstats: MemStats | None = None

    def add(self, rec: object, pointer_values) -> None:
        """File one decoded record in its table (records of other kinds are ignored)."""
        if isinstance(rec, Segment):
            self.segments.append(SegmentInfo(
                rec.bss, rec.address, len(rec.contents), rec.contents_offset,
                np.array(rec.fields, dtype=np.uint64),
                np.array(pointer_values(rec.contents, rec.fields), dtype=np.uint64)))
        elif isinstance(rec, MemStats):
            self.memstats = rec
        else:
            table = _TABLE_OF.get(type(rec))
            if table is not None:
                getattr(self, table).append(rec)

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(SmallTables)}


_TABLE_OF = {Goroutine: "goroutines", Finalizer: "finalizers", Defer: "defers",
             Panic: "panics", OtherRoot: "other_roots", TypeRecord: "types", Itab: "itabs",
             OSThread: "threads", MemProfBucket: "buckets"}


@dataclass(kw_only=True)
class RawScan(SmallTables):
    """Arrays named ``<table>_<column>``; pointer lists are CSR (``*_pstart`` has n+1 entries);
    the few other records in the inherited :class:`SmallTables`."""

    params: Params
    file_size: int
    # Heap objects, in file order.
    obj_addr: np.ndarray  # uint64
    obj_size: np.ndarray  # uint64
    obj_off: np.ndarray  # int64: file offset of the contents
    obj_pstart: np.ndarray  # int64[n+1]
    ptr_off: np.ndarray  # uint32 (uint64 if an object is over 4 GiB): slot offset in the object
    ptr_val: np.ndarray  # uint64: the pointer stored there
    # Stack frames, in file order (a goroutine's frames follow it, innermost first).
    frame_sp: np.ndarray  # uint64
    frame_size: np.ndarray  # uint64
    frame_off: np.ndarray  # int64
    frame_depth: np.ndarray  # int32
    frame_child: np.ndarray  # uint64
    frame_entry: np.ndarray  # uint64
    frame_pc: np.ndarray  # uint64
    frame_goroutine: np.ndarray  # int32: index into goroutines
    frame_name: np.ndarray  # int32: index into names
    frame_pstart: np.ndarray  # int64[n+1]
    fptr_off: np.ndarray  # uint64
    fptr_val: np.ndarray  # uint64
    names: list[str] = field(default_factory=list)  # frame function names
    sample_addr: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    sample_bucket: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    record_count: int = 0
    # Objects (and their pointer slots) sorted by address, ties in file order; else file order.
    address_order: bool = False

    def array_fields(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if isinstance(getattr(self, f.name), np.ndarray)}


@dataclass
class SegmentInfo:
    bss: bool
    address: int
    size: int
    contents_offset: int
    ptr_off: np.ndarray  # uint64 offsets
    ptr_val: np.ndarray  # uint64 values

    @property
    def end(self) -> int:
        return self.address + self.size
