"""The native scan: the C extension ``_cscan`` walks the mmap'd dump twice. The counting pass
sizes the arrays, keeps each object's address and pointer count and notes checkpoints; the
filling pass then runs in parallel parts (one per CPU, each from a checkpoint) and writes the
objects and their pointer slots straight into address order. The few records it does not
handle (params, types, goroutines, segments, finalizers, ...) are decoded by the reference
reader at the offsets it lists.

Produces the :class:`RawScan` of :func:`scan_python` with its objects in address order (see
:func:`heapspurs.scan.address_order.in_address_order`); a differential test checks that.
"""

from __future__ import annotations

import mmap
import os

import numpy as np

from heapspurs.format.errors import DumpFormatError
from heapspurs.format.reader import HEADER, DumpReader
from heapspurs.format.records import TAG_NAMES
from heapspurs.index.workspace import Workspace
from heapspurs.scan.raw import RawScan, SmallTables, offset_dtype

try:
    from heapspurs.scan import _cscan
except ImportError:  # pragma: no cover - exercised only where the extension was not built
    _cscan = None

AVAILABLE = _cscan is not None

# Array order of the C side's Out struct: (name, dtype, length key).
_LAYOUT = (
    ("obj_addr", np.uint64, "obj"), ("obj_size", np.uint64, "obj"),
    ("obj_off", np.int64, "obj"), ("obj_pstart", np.int64, "obj+1"),
    ("ptr_off", np.uint64, "ptr"), ("ptr_val", np.uint64, "ptr"),
    ("frame_sp", np.uint64, "frame"), ("frame_size", np.uint64, "frame"),
    ("frame_off", np.int64, "frame"), ("frame_depth", np.int32, "frame"),
    ("frame_child", np.uint64, "frame"), ("frame_entry", np.uint64, "frame"),
    ("frame_pc", np.uint64, "frame"), ("frame_goroutine", np.int32, "frame"),
    ("frame_name_off", np.int64, "frame"), ("frame_name_len", np.int64, "frame"),
    ("frame_pstart", np.int64, "frame+1"),
    ("fptr_off", np.uint64, "fptr"), ("fptr_val", np.uint64, "fptr"),
    ("other_off", np.int64, "other"),
    ("sample_addr", np.uint64, "sample"), ("sample_bucket", np.uint64, "sample"),
)


def _fail(buf, result: tuple, size: int) -> DumpFormatError:
    message, offset, record, start = result
    if message == "truncated":
        kind = TAG_NAMES.get(buf[start], "record") if start < size else "record"
        return DumpFormatError(f"heap dump is truncated inside a {kind} record", offset=size,
                               record=record)
    if (message.startswith("heap dump ends") or message.startswith("unknown record tag")
            or message.startswith("the EOF record")):
        return DumpFormatError(message, offset=offset, record=record)
    kind = TAG_NAMES.get(buf[start], "record")
    return DumpFormatError(f"bad {kind} record: {message}", offset=offset, record=record)


def _fill_in_parts(buf, size: int, fill: tuple, release: bool, checkpoints: list,
                   totals: tuple, n_records: int) -> None:
    """The filling pass, one part of the file per CPU, each from a checkpoint of the counting
    pass (the record there and the counts before it), in threads: the C walk releases the GIL.
    Each part must end with the counts the next checkpoint noted, else the file changed."""
    workers = max(1, min(os.cpu_count() or 1, 8, len(checkpoints)))
    # Parts of equal work (records and pointer slots decoded), not of equal bytes.
    work = [cp[2] + cp[4] + cp[7] for cp in checkpoints]  # pointers, frame pointers, records
    total = totals[1] + totals[3] + n_records
    picks = sorted({min(range(len(work)), key=lambda i: abs(work[i] - total * k / workers))
                    for k in range(workers)} | {0})
    starts = [checkpoints[i] for i in picks]
    expect = [tuple(cp[1:7]) for cp in starts[1:]] + [tuple(totals)]
    stops = [cp[0] for cp in starts[1:]] + [-1]

    def part(k: int) -> tuple:
        return _cscan.scan(buf, len(HEADER), fill, release, None, (*starts[k], stops[k]))

    if len(starts) == 1:
        results = [part(0)]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(starts)) as pool:
            results = list(pool.map(part, range(len(starts))))
    for result, want, start in zip(results, expect, starts, strict=True):
        if isinstance(result[0], str):
            raise _fail(buf, result, size)
        if tuple(result[:6]) != want:
            raise DumpFormatError("the dump changed while it was read", offset=start[0],
                                  record=start[7] + 1)


def address_ranks(ws: Workspace, addr: np.ndarray, count: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(rank, pstart): each object's position in address order (ties in file order) and the
    CSR starts of its pointer slots there, for the objects' addresses and pointer counts in
    file order. A counting sort on pages where the dump allows it (see cscan_order.c), else a
    sort."""
    n = len(addr)
    rank = ws.empty("rank", n, np.int64)
    pstart = ws.empty("obj_pstart", n + 1, np.int64)
    if n:
        lo, hi = int(addr.min()) >> 13, int(addr.max()) >> 13
        npages = hi - lo + 1
        # The page table: 16 bytes a page, at most twice the objects' own 12 bytes.
        if npages <= 2 * n + 1024 and _cscan.rank_by_page(addr, count, rank, pstart, n, lo,
                                                          npages):
            return rank, pstart
    order = np.argsort(addr, kind="stable")
    pstart[0] = 0
    np.cumsum(count[order], out=pstart[1:])
    rank[order] = np.arange(n, dtype=np.int64)
    return rank, pstart


def index_bytes(n_obj: int, n_ptr: int) -> int:
    """What the index of this many objects and pointer slots takes on disk (an upper bound:
    the arrays of heapspurs.index.heap_index and the scan's ranks)."""
    return n_obj * 72 + n_ptr * 28 + (16 << 20)


def scan_native(path: str | os.PathLike[str], ws: Workspace | None = None) -> RawScan:
    """Read every record of the dump at ``path`` into flat arrays, in native code; the big
    ones allocated by ``ws`` (in memory by default)."""
    if _cscan is None:
        raise RuntimeError("the native scan (_cscan) is not built")
    ws = ws or Workspace()
    with DumpReader(path) as reader:
        buf, size = reader.buf, reader.size
        release = isinstance(buf, mmap.mmap)
        # The counting pass also keeps each object's address and pointer count (room for one
        # object per 16 bytes of file, far more than a real dump holds; the memory is only
        # reserved, or the file sparse, and touched as far as it is used), so the filling pass
        # can write objects and their pointer slots straight into address order.
        room = size // 16 + 16
        try:
            seen: tuple | None = (ws.empty("seen_addr", room, np.uint64),
                                  ws.empty("seen_count", room, np.uint32))
        except MemoryError:  # the system would not reserve it: sort afterwards instead
            seen = None
        first = _cscan.scan(buf, len(HEADER), None, release, seen)
        if isinstance(first[0], str):
            raise _fail(buf, first, size)
        (n_obj, n_ptr, n_frame, n_fptr, n_other, n_sample, n_records, _, max_size, kept,
         checkpoints) = first
        ws.check_disk(index_bytes(n_obj, n_ptr))
        off_type = offset_dtype(max_size)
        lengths = {"obj": n_obj, "obj+1": n_obj + 1, "ptr": n_ptr, "frame": n_frame,
                   "frame+1": n_frame + 1, "fptr": n_fptr, "other": n_other,
                   "sample": n_sample}
        ranked = None
        if kept and seen is not None:
            ranked = address_ranks(ws, seen[0][:n_obj], seen[1][:n_obj])
        del seen
        ws.forget("seen_addr")
        ws.forget("seen_count")
        arrays = {}
        for name, dtype, key in _LAYOUT:
            if name == "obj_pstart" and ranked is not None:
                arrays[name] = ranked[1]
            else:
                make = ws.empty if ranked is not None and key in ("obj", "ptr") else ws.zeros
                arrays[name] = make(name, lengths[key], off_type if name == "ptr_off" else dtype)
        fill = ((n_obj, n_ptr, n_frame, n_fptr, n_other, n_sample, off_type == np.uint32),
                tuple(arrays[name] for name, _, _ in _LAYOUT) + (ranked or ()))
        ws.note_pass("fill")
        _fill_in_parts(buf, size, fill, release, checkpoints, first[:6], n_records)
        del fill, ranked
        ws.forget("rank")

        small = SmallTables()
        for off in arrays["other_off"].tolist():
            _, rec = next(reader.records(start=off))
            small.add(rec, reader.pointer_values)
        if reader.params is None:
            raise DumpFormatError("heap dump has no params record")

        names: dict[bytes, int] = {}
        name_ids = np.empty(n_frame, np.int32)
        for i, (off, ln) in enumerate(zip(arrays["frame_name_off"].tolist(),
                                          arrays["frame_name_len"].tolist(), strict=True)):
            name_ids[i] = names.setdefault(buf[off : off + ln], len(names))
        fields = {name: arrays[name] for name, _, _ in _LAYOUT
                  if name not in ("frame_name_off", "frame_name_len", "other_off")}
        return RawScan(
            params=reader.params, file_size=size, **fields, frame_name=name_ids,
            address_order=bool(kept),
            names=[n.decode("utf-8", errors="replace") for n in names],
            record_count=n_records, **small.as_dict())
