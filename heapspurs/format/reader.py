"""Streaming decoder of the "go1.7 heap dump" format: the readable specification of the format.

A dump is the 16-byte header ``go1.7 heap dump\\n`` followed by records. Each record is a uvarint
tag followed by its fields: uvarints, strings (uvarint length + bytes) and fieldlists (pairs of
uvarint kind and uvarint offset, ending with kind 0). Each record is decoded by its layout as
:data:`heapspurs.format.records.LAYOUTS` declares it (after ``runtime/heapdump.go``, identical
from Go 1.21 to 1.27).

The file is mmap'd and decoded one record at a time, so memory stays constant whatever its size.
Every length is checked against the end of the file before anything is sliced, so a corrupt length
can never cause a large allocation; every malformed byte raises :class:`DumpFormatError` naming
the byte offset and the record number.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from heapspurs.format.errors import DumpFormatError
from heapspurs.format.records import (
    BIG_ENDIAN,
    BOOL,
    CONTENTS,
    FIELD_EFACE,
    FIELD_EOL,
    FIELDS,
    LAYOUTS,
    PTR_SIZE,
    REPEAT,
    STRING,
    TAG_EOF,
    TAG_NAMES,
    TAG_PARAMS,
    UVARINT,
    EndOfFile,
    Layout,
    Params,
    Record,
)

HEADER = b"go1.7 heap dump\n"
RELEASE_EVERY = 32 << 20  # give back mapped pages behind the cursor every 32 MiB


class _Truncated(Exception):
    """Internal: the data ended inside a field."""


class _Bad(Exception):
    """Internal: a field holds an impossible value; the message says which."""


_LIST = "list"  # a run of ``count`` uvarints kept together (a list, or a dict by keys)


@dataclass(frozen=True, slots=True)
class Plan:
    """A layout as the decoder walks it: (step, count, extra) triples, where consecutive
    uvarints are one step and BIG_ENDIAN is a BOOL, and the callable that builds the record."""

    steps: tuple[tuple[str, int, object], ...]
    make: Callable[..., Record]


def plan_of(layout: Layout) -> Plan:
    """The decoding plan of one of :data:`LAYOUTS` (or a repeated group of one)."""
    steps: list[tuple[str, int, object]] = []
    for f in layout.fields:
        if f.count > 1:
            steps.append((_LIST, f.count, f.keys))
        elif f.kind is UVARINT and steps and steps[-1][0] is UVARINT:
            steps[-1] = (UVARINT, steps[-1][1] + 1, None)
        elif f.kind is REPEAT:
            steps.append((REPEAT, 1, plan_of(f.group)))
        else:
            steps.append((BOOL if f.kind is BIG_ENDIAN else f.kind, 1, None))
    make = layout.record
    if layout.fixed:
        make = partial(layout.record, **dict(layout.fixed))
    return Plan(tuple(steps), make)


PLANS = {tag: plan_of(layout) for tag, layout in LAYOUTS.items()}


def open_dump(path: str | os.PathLike[str]) -> tuple[mmap.mmap | bytes, int]:
    """Map a dump file read-only and check its header. Returns (buffer, file size)."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < len(HEADER):
                head = f.read(len(HEADER))
                if head and HEADER.startswith(head):
                    raise DumpFormatError(
                        f"truncated heap dump header ({size} bytes)", offset=size, path=p
                    )
                raise DumpFormatError("not a Go heap dump: file is empty" if size == 0
                                      else "not a Go heap dump: missing 'go1.7 heap dump' header",
                                      offset=0, path=p)
            buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except IsADirectoryError:
        raise DumpFormatError("not a Go heap dump: it is a directory", path=p) from None
    except PermissionError as e:
        raise DumpFormatError(f"cannot read the file: {e.strerror}", path=p) from None
    except OSError as e:
        raise DumpFormatError(f"cannot read the file: {e.strerror or e}", path=p) from None
    if buf[: len(HEADER)] != HEADER:
        buf.close()
        raise DumpFormatError("not a Go heap dump: missing 'go1.7 heap dump' header", offset=0,
                              path=p)
    return buf, size


class DumpReader:
    """Iterate over the records of a heap dump file, in file order.

    ``for offset, record in DumpReader(path).records(): ...``. The params record (always first
    in practice) sets the byte order and pointer size used by :meth:`pointer_values`.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = str(path)
        self.buf, self.size = open_dump(path)
        self.params: Params | None = None
        self.record_count = 0
        self.position = len(HEADER)  # offset just past the last record yielded

    def close(self) -> None:
        if isinstance(self.buf, mmap.mmap):
            self.buf.close()

    def __enter__(self) -> DumpReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def ptr_size(self) -> int:
        return self.params.ptr_size if self.params else 8

    @property
    def byteorder(self) -> str:
        return "big" if self.params and self.params.big_endian else "little"

    def pointer_values(self, contents: bytes, fields: list[int]) -> list[int]:
        """The pointer stored at each field offset, in the dump's byte order and pointer size."""
        n = self.ptr_size
        order = self.byteorder
        return [int.from_bytes(contents[off : off + n], order) for off in fields]

    def records(self, start: int = len(HEADER), number: int = 0) -> Iterator[tuple[int, Record]]:
        """Yield (byte offset of the record, record) until the EOF record (inclusive).

        ``start`` and ``number`` resume at a known record boundary (the native scan lists the
        offsets of the records it leaves to this decoder); ``number`` is the count before it.
        """
        buf = self.buf
        end = self.size
        pos = start

        def uvarint() -> int:
            nonlocal pos
            if pos >= end:
                raise _Truncated
            b = buf[pos]
            pos += 1
            if b < 0x80:
                return b
            result = b & 0x7F
            shift = 7
            while True:
                if pos >= end:
                    raise _Truncated
                b = buf[pos]
                pos += 1
                if shift == 63 and b > 1:
                    raise _Bad("varint overflows 64 bits")
                result |= (b & 0x7F) << shift
                if b < 0x80:
                    return result
                shift += 7
                if shift > 63:
                    raise _Bad("varint longer than 10 bytes")

        def raw() -> tuple[bytes, int]:
            nonlocal pos
            n = uvarint()
            if n > end - pos:
                raise _Bad(f"length {n} runs past the end of the file ({end - pos} bytes left): "
                           "truncated or corrupt")
            start = pos
            pos += n
            return buf[start:pos], start

        def string() -> str:
            return raw()[0].decode("utf-8", errors="replace")

        def fieldlist(size: int) -> list[int]:
            offsets: list[int] = []
            psize = self.ptr_size
            while True:
                kind = uvarint()
                if kind == FIELD_EOL:
                    return offsets
                if kind > FIELD_EFACE:
                    raise _Bad(f"unknown field kind {kind}")
                off = uvarint()
                if off + psize > size:
                    raise _Bad(f"pointer field at offset {off} lies outside its {size}-byte record")
                offsets.append(off)

        def build(plan: Plan) -> Record:
            """Decode one record (or group) by its plan: see :func:`plan_of`."""
            args: list[object] = []
            size = 0  # of the last contents: bounds the fieldlist after it
            for step, n, extra in plan.steps:
                if step is UVARINT:
                    if n == 1:
                        args.append(uvarint())
                    else:
                        args += [uvarint() for _ in range(n)]
                elif step is CONTENTS:
                    contents, coff = raw()
                    size = len(contents)
                    args += (contents, coff)
                elif step is FIELDS:
                    args.append(fieldlist(size))
                elif step is STRING:
                    args.append(string())
                elif step is BOOL:
                    args.append(uvarint() != 0)
                elif step is PTR_SIZE:
                    psize = uvarint()
                    if psize not in (4, 8):
                        raise _Bad(f"unsupported pointer size {psize}")
                    args.append(psize)
                elif step is _LIST:
                    values = [uvarint() for _ in range(n)]
                    args.append(dict(zip(extra, values, strict=True)) if extra else values)
                else:  # REPEAT: the count is untrusted, but each group consumes bytes, so the
                    # loop is bounded by the file's size and nothing is allocated up front.
                    args.append([build(extra) for _ in range(uvarint())])
            return plan.make(*args)

        released = start - start % mmap.PAGESIZE
        can_release = isinstance(buf, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED")
        while True:
            start = pos
            number += 1
            if can_release and start - released > RELEASE_EVERY:
                # Records are copied out of the map, so the pages behind us can go: --print
                # then runs in constant memory whatever the dump's size.
                upto = start - start % mmap.PAGESIZE
                buf.madvise(mmap.MADV_DONTNEED, released, upto - released)
                released = upto
            self.record_count = number
            try:
                if pos >= end:
                    raise DumpFormatError("heap dump ends without an EOF record (truncated?)",
                                          offset=pos, record=number, path=self.path)
                tag = uvarint()
                plan = PLANS.get(tag)
                if plan is None:
                    raise DumpFormatError(f"unknown record tag {tag}", offset=start,
                                          record=number, path=self.path)
                if tag == TAG_EOF:
                    if pos != end:
                        raise DumpFormatError(
                            f"the EOF record is followed by {end - pos} more bytes "
                            "(corrupt record tag, or garbage appended)", offset=start,
                            record=number, path=self.path)
                    self.position = pos
                    yield start, EndOfFile()
                    return
                record = build(plan)
                if tag == TAG_PARAMS:
                    self.params = record
            except _Truncated:
                kind = TAG_NAMES.get(buf[start], "record") if start < end else "record"
                raise DumpFormatError(f"heap dump is truncated inside a {kind} record",
                                      offset=end, record=number, path=self.path) from None
            except _Bad as e:
                kind = TAG_NAMES.get(buf[start], "record")
                raise DumpFormatError(f"bad {kind} record: {e}", offset=pos,
                                      record=number, path=self.path) from None
            self.position = pos
            yield start, record

