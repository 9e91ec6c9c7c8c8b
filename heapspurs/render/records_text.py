"""Text lines for dump records in the original heapspurs formats (so grep habits keep working).

One header line per record, then indented ``Pointer[i]@0xSLOT = 0xVALUE`` lines for the non-nil
pointers of objects, frames and segments, and one indented line per stack frame of a memory
profile bucket.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from heapspurs.format.records import (
    AllocSample,
    Defer,
    EndOfFile,
    Finalizer,
    Goroutine,
    Itab,
    MemProfBucket,
    MemStats,
    Object,
    OSThread,
    OtherRoot,
    Panic,
    Params,
    Record,
    Segment,
    StackFrame,
    TypeRecord,
)

PointerReader = Callable[[bytes, list[int]], list[int]]
Namer = Callable[[int], "str | None"]


def _none(_: int) -> str | None:
    return None


@dataclass(frozen=True)
class PrintNames:
    """How ``--print`` names addresses (each returns None when it knows no name)."""

    value: Namer = _none  # what a pointer value points at: named object, global, function
    slot: Namer = _none  # the global variable a data/BSS pointer slot lies in
    object: Namer = _none  # the name heading the object that starts at an address
    function: Namer = _none  # the function containing a code address
    funcval: Namer = _none  # the function a funcval (closure) runs
    bucket: Namer = _none  # the allocation site of a memory-profile bucket


NO_NAMES = PrintNames()


def named(value: int, name: str | None) -> str:
    """``0x1234`` or ``0x1234 (name)``."""
    return f"{hx(value)} ({name})" if name else hx(value)


def hx(value: int) -> str:
    """An address as the tools print it: lowercase hex with 0x."""
    return f"0x{value:x}"


def object_header(address: int, npointers: int, size: int, name: str | None = None) -> str:
    return f"{name or 'Object'} @ {hx(address)} with {npointers} pointers in {size} bytes"


def frame_header(depth: int, sp: int, name: str, npointers: int, size: int,
                 child_sp: int) -> str:
    return (
        f"StackFrame[{depth}] @ {hx(sp)}: {name} with {npointers} "
        f"pointers in {size} bytes; child = {hx(child_sp)}"
    )


def segment_header(seg: Segment) -> str:
    kind = "BssSegment" if seg.bss else "DataSegment"
    return f"{kind} @ {hx(seg.address)}-{hx(seg.end)} with {len(seg.fields)} pointers"


def goroutine_header(g: Goroutine) -> str:
    state = g.status_name
    if g.status == 4:
        state = f"{state} ({g.wait_reason})"
    return f"Goroutine[{g.goid}] @ {hx(g.address)}: {state}, Stack @ {hx(g.sp)}"


def finalizer_line(f: Finalizer, names: PrintNames = NO_NAMES) -> str:
    kind = "QueuedFinalizer" if f.queued else "RegisteredFinalizer"
    return (
        f"{kind} @ {named(f.object, names.object(f.object))}: "
        f"FuncVal: {named(f.funcval, names.funcval(f.funcval))}, Type: {hx(f.fint)}, "
        f"Object Type: {hx(f.ot)}"
    )


def pointer_lines(base: int, fields: list[int], values: list[int], indent: str = "  ",
                  names: PrintNames = NO_NAMES, slots: bool = False) -> Iterator[str]:
    """The original's pointer lines: index in the fieldlist, slot address, value; nil skipped.
    Names follow the value they describe (and, with ``slots``, the slot: a global)."""
    for i, (off, val) in enumerate(zip(fields, values, strict=False)):
        if val:
            slot = named(base + off, names.slot(base + off)) if slots else hx(base + off)
            yield f"{indent}Pointer[{i}]@{slot} = {named(val, names.value(val))}"


def memstats_line(m: MemStats) -> str:
    parts = [f"{k}:{v}" for k, v in m.values.items()]
    parts.append("PauseNs:[" + " ".join(str(p) for p in m.pause_ns) + "]")
    parts.append(f"NumGC:{m.num_gc}")
    return "MemStats: {" + " ".join(parts) + "}"


def record_lines(record: Record, pointers: PointerReader,
                 names: PrintNames = NO_NAMES) -> Iterator[str]:
    """All lines ``--print`` shows for one record."""
    if isinstance(record, Object):
        yield object_header(record.address, len(record.fields), record.size,
                            names.object(record.address))
        yield from pointer_lines(record.address, record.fields,
                                 pointers(record.contents, record.fields), names=names)
    elif isinstance(record, StackFrame):
        yield frame_header(record.depth, record.sp, record.name, len(record.fields),
                           record.size, record.child_sp)
        yield from pointer_lines(record.sp, record.fields,
                                 pointers(record.contents, record.fields), names=names)
    elif isinstance(record, Segment):
        yield segment_header(record)
        yield from pointer_lines(record.address, record.fields,
                                 pointers(record.contents, record.fields), names=names,
                                 slots=True)
    elif isinstance(record, TypeRecord):
        yield (f"TypeDescriptor for '{record.name}' @ {hx(record.address)}: "
               f"Objects are {record.size} bytes")
    elif isinstance(record, Itab):
        yield f"Itab @ {hx(record.address)}: {hx(record.type_address)}"
    elif isinstance(record, Goroutine):
        yield goroutine_header(record)
    elif isinstance(record, Params):
        yield (
            f"DumpParams: BigEndian={'true' if record.big_endian else 'false'}, "
            f"PointerSize={record.ptr_size}, Heap={hx(record.heap_start)}-{hx(record.heap_end)}, "
            f"Architecture={record.arch}, GOEXPERIMENT={record.version}, Cpus={record.ncpu}"
        )
    elif isinstance(record, Finalizer):
        yield finalizer_line(record, names)
    elif isinstance(record, OSThread):
        yield f"OsThread @ {hx(record.address)}: GoId = {record.go_id}; OsId = {hx(record.os_id)}"
    elif isinstance(record, MemStats):
        yield memstats_line(record)
    elif isinstance(record, Defer):
        yield (
            f"DeferRecord @ {hx(record.address)}: Goroutine = {hx(record.goroutine)}, "
            f"SP = {hx(record.sp)}, PC = {named(record.pc, names.function(record.pc))}, "
            f"FuncVal = {named(record.funcval, names.funcval(record.funcval))}, "
            f"Fn = {named(record.fn_pc, names.function(record.fn_pc))}, Next = {hx(record.link)}"
        )
    elif isinstance(record, Panic):
        yield (
            f"PanicRecord @ {hx(record.address)}: Goroutine = {hx(record.goroutine)}, "
            f"ArgType = {hx(record.arg_type)}, ArgData = {hx(record.arg_data)}, "
            f"Next = {hx(record.link)}"
        )
    elif isinstance(record, MemProfBucket):
        yield (
            f"AllocFreeProfileRecord @ {hx(record.address)}: Size = {record.size}, "
            f"Allocs = {record.allocs}, Frees = {record.frees}, Frames = {len(record.frames)}"
        )
        for fr in record.frames:
            yield f"  {fr.function} {fr.file}:{fr.line}"
    elif isinstance(record, AllocSample):
        yield (f"AllocStackTraceSample @ {hx(record.address)}: "
               f"Bucket = {named(record.bucket, names.bucket(record.bucket))}")
    elif isinstance(record, OtherRoot):
        yield f"OtherRoot @ {hx(record.address)}: {record.description}"
    elif isinstance(record, EndOfFile):
        yield "End Of File"
    else:  # pragma: no cover - every record type is listed above
        yield repr(record)
