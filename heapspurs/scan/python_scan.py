"""The pure-Python scan: drives the streaming reader and collects a :class:`RawScan`.

Slow (about a microsecond per varint) but it is the executable specification the native scan is
tested against, and the fallback where the native extension is not built.
"""

from __future__ import annotations

import os
from array import array

import numpy as np

from heapspurs.format.errors import DumpFormatError
from heapspurs.format.reader import DumpReader
from heapspurs.format.records import (
    AllocSample,
    Goroutine,
    Object,
    StackFrame,
)
from heapspurs.scan.raw import RawScan, SmallTables, offset_dtype


def _np(a: array, dtype: type) -> np.ndarray:
    return np.frombuffer(a, dtype=dtype).copy() if len(a) else np.zeros(0, dtype)


def scan_python(path: str | os.PathLike[str]) -> RawScan:
    """Read every record of the dump at ``path`` into flat arrays."""
    with DumpReader(path) as reader:
        obj_addr, obj_size, obj_off, obj_np = array("Q"), array("Q"), array("q"), array("q")
        ptr_off, ptr_val = array("Q"), array("Q")
        f_sp, f_size, f_off, f_depth, f_child = (array("Q"), array("Q"), array("q"),
                                                  array("i"), array("Q"))
        f_entry, f_pc, f_g, f_name, f_np = array("Q"), array("Q"), array("i"), array("i"), \
            array("q")
        fptr_off, fptr_val = array("Q"), array("Q")
        s_addr, s_bucket = array("Q"), array("Q")
        names: dict[str, int] = {}
        raw = RawScan.__new__(RawScan)
        small = SmallTables()
        pv = reader.pointer_values
        ngoroutines = 0

        for _, rec in reader.records():
            if isinstance(rec, Object):
                obj_addr.append(rec.address)
                obj_size.append(len(rec.contents))
                obj_off.append(rec.contents_offset)
                obj_np.append(len(rec.fields))
                ptr_off.extend(rec.fields)
                ptr_val.extend(pv(rec.contents, rec.fields))
            elif isinstance(rec, StackFrame):
                f_sp.append(rec.sp)
                f_size.append(len(rec.contents))
                f_off.append(rec.contents_offset)
                f_depth.append(min(rec.depth, 2**31 - 1))
                f_child.append(rec.child_sp)
                f_entry.append(rec.entry_pc)
                f_pc.append(rec.pc)
                f_g.append(ngoroutines - 1)
                f_name.append(names.setdefault(rec.name, len(names)))
                f_np.append(len(rec.fields))
                fptr_off.extend(rec.fields)
                fptr_val.extend(pv(rec.contents, rec.fields))
            elif isinstance(rec, AllocSample):
                s_addr.append(rec.address)
                s_bucket.append(rec.bucket)
            else:
                if isinstance(rec, Goroutine):
                    ngoroutines += 1
                small.add(rec, pv)
        if reader.params is None:
            raise DumpFormatError("heap dump has no params record")

        def csr(counts: array) -> np.ndarray:
            out = np.zeros(len(counts) + 1, np.int64)
            if len(counts):
                np.cumsum(np.frombuffer(counts, np.int64), out=out[1:])
            return out

        raw.__init__(
            params=reader.params, file_size=reader.size,
            obj_addr=_np(obj_addr, np.uint64), obj_size=_np(obj_size, np.uint64),
            obj_off=_np(obj_off, np.int64), obj_pstart=csr(obj_np),
            ptr_off=_np(ptr_off, np.uint64).astype(
                offset_dtype(max(obj_size, default=0)), copy=False),
            ptr_val=_np(ptr_val, np.uint64),
            frame_sp=_np(f_sp, np.uint64), frame_size=_np(f_size, np.uint64),
            frame_off=_np(f_off, np.int64), frame_depth=_np(f_depth, np.int32),
            frame_child=_np(f_child, np.uint64), frame_entry=_np(f_entry, np.uint64),
            frame_pc=_np(f_pc, np.uint64), frame_goroutine=_np(f_g, np.int32),
            frame_name=_np(f_name, np.int32), frame_pstart=csr(f_np),
            fptr_off=_np(fptr_off, np.uint64), fptr_val=_np(fptr_val, np.uint64),
            names=list(names), **small.as_dict(), sample_addr=_np(s_addr, np.uint64),
            sample_bucket=_np(s_bucket, np.uint64),
            record_count=reader.record_count,
        )
        return raw
