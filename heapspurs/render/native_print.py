"""``--print`` at native speed: the C extension formats runs of objects, stack frames and
allocation samples; every other record (and any malformed one) goes through the reference
reader and :func:`record_lines`, so the output and the errors are those of the Python path."""

from __future__ import annotations

import mmap
import sys

import numpy as np

from heapspurs.format.reader import HEADER, RELEASE_EVERY, DumpReader
from heapspurs.format.records import TAG_MEMPROF, EndOfFile, MemProfBucket
from heapspurs.names.alloc_sites import bucket_site_label
from heapspurs.names.table import NameTable
from heapspurs.render.output import binary_output
from heapspurs.render.records_text import NO_NAMES, PrintNames, record_lines
from heapspurs.scan.native_scan import _cscan

AVAILABLE = _cscan is not None
CHUNK = 1 << 20  # bytes of text per call into C


def bucket_table(sites: dict[int, str]) -> tuple:
    """The allocation sites of the buckets seen so far, as the C side's name table."""
    starts = np.array(sorted(sites), np.uint64)
    return NameTable(starts, starts + np.uint64(1), [sites[int(a)] for a in starts]).c_arrays()


def print_records(reader: DumpReader, names: PrintNames = NO_NAMES,
                  table: NameTable | None = None, sites: dict[int, str] | None = None) -> None:
    """Every record; ``table`` names pointer values and objects on the native side, ``names``
    the same (and globals, functions) on the records the reader decodes. ``sites`` collects
    each memory-profile bucket's allocation site as the buckets go by (they precede the
    allocation samples, whose lines name them)."""
    sys.stdout.flush()
    arrays = table.c_arrays() if table is not None and len(table) else None
    sites = {} if sites is None else sites
    buckets = None
    fd, write = binary_output()
    buf = reader.buf
    pos = len(HEADER)
    number = 0
    released = 0
    can_release = isinstance(buf, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED")
    while True:
        if can_release and pos - released > RELEASE_EVERY:
            upto = pos - pos % mmap.PAGESIZE  # pages behind us are done with: constant memory
            buf.madvise(mmap.MADV_DONTNEED, released, upto - released)
            released = upto
        text, pos, done = _cscan.format(buf, pos, reader.ptr_size == 8,
                                        reader.byteorder == "big", CHUNK, fd, arrays, buckets)
        number += done
        if text:
            write(text)
        if done:
            continue
        # Records the C side leaves to the reader (or a malformed one: the reader says why);
        # a run of memory-profile buckets is read here at once, then handed to C as a table.
        lines = []
        new_buckets = False
        while True:
            _, record = next(reader.records(start=pos, number=number))
            number += 1
            pos = reader.position
            if isinstance(record, MemProfBucket):
                sites[record.address] = bucket_site_label(record)
                new_buckets = True
            lines.extend(record_lines(record, reader.pointer_values, names))
            if not (isinstance(record, MemProfBucket) and pos < len(buf)
                    and buf[pos] == TAG_MEMPROF):
                break
        if new_buckets:
            buckets = bucket_table(sites)
        write(("\n".join(lines) + "\n").encode("utf-8", errors="replace"))
        if isinstance(record, EndOfFile):
            break
    sys.stdout.flush()
