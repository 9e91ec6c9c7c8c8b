"""Listings of many objects (``--find``, the addresses of ``--unreachable --json``) written as
they go, in constant memory: the C extension formats chunks of object ids straight from the
index arrays, with each object's name, type and allocation site and each pointer value's name
looked up on the C side in tables prepared once. The per-object functions of
:mod:`heapspurs.render.objects_view` are the specification (a test compares both) and the path
without a compiler. JSON listings are one document, written in pieces."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from heapspurs.index.heap_index import HeapIndex
from heapspurs.index.pages import PagesBehind
from heapspurs.names.alloc_sites import allocation_sites
from heapspurs.names.naming import names_of
from heapspurs.render.objects_view import found_object_json, object_line, object_pointer_lines
from heapspurs.render.output import binary_output, write_lines
from heapspurs.render.records_text import hx
from heapspurs.scan.native_scan import _cscan

TEXT, JSON, ADDRESSES = range(3)  # the C side's modes
CHUNK = 16384  # objects per call into C
LIMIT = 1 << 20  # bytes of text the C side gathers before writing them out

Column = tuple[np.ndarray | None, np.ndarray, bytes] | None


def _strings(values: list[str]) -> tuple[np.ndarray, bytes]:
    """(offset of each string, the NUL-terminated strings) for the C side."""
    encoded = [v.encode("utf-8", errors="replace") for v in values]
    offsets = np.zeros(len(encoded), np.int64)
    if encoded:
        np.cumsum(np.array([len(e) + 1 for e in encoded[:-1]], np.int64), out=offsets[1:])
    return offsets, b"\0".join(encoded) + b"\0"


def _column(ids: np.ndarray | None, values: list[str]) -> Column:
    if ids is None or not values:
        return None
    return (np.ascontiguousarray(ids, np.int32), *_strings(values))


def _columns(ix: HeapIndex, mode: int) -> tuple[Column, Column, Column]:
    """Per object: its name (``--oid``), its type (``--program``), its allocation site (text)
    or stack (JSON)."""
    names = names_of(ix)
    sites = allocation_sites(ix)
    quote = json.dumps if mode == JSON else str
    typing = names.typing
    if mode == JSON:
        stacks = [json.dumps([{"function": f.function, "file": f.file, "line": f.line}
                              for f in b.frames]) for b in sites.buckets]
    else:
        stacks = sites.labels
    return (_column(names.object_ids, [quote(s) for s in names.object_labels]),
            _column(typing.object_type, [quote(s) for s in typing.names])
            if typing is not None else None,
            _column(sites.bucket_of, stacks))


def _tables(ix: HeapIndex, mode: int) -> tuple:
    """The name tables for pointer values, in the order :meth:`Names.value_names` tries them."""
    names = names_of(ix)
    escape = (lambda s: json.dumps(s)[1:-1]) if mode == JSON else None
    return tuple(t.c_arrays(escape) for t in (names.heap_table(), names.symbols, names.statics)
                 if len(t))


def _index(ix: HeapIndex) -> tuple:
    return (ix.addr, ix.size, ix.pstart, ix.poff, ix.pval, ix.pdst,
            ix.phantom.view(np.uint8), ix.header.view(np.uint8))


def _native(ix: HeapIndex, objs: np.ndarray, mode: int) -> None:
    columns = _columns(ix, mode) if mode != ADDRESSES else (None, None, None)
    tables = _tables(ix, mode) if mode != ADDRESSES else ()
    index = _index(ix)
    objs = np.ascontiguousarray(objs, np.int64)
    by_object, by_pointer = _pages(ix, mode)
    in_order = bool((objs[1:] >= objs[:-1]).all())
    sys.stdout.flush()
    fd, write = binary_output()
    for start in range(0, len(objs), CHUNK):
        text = _cscan.listing(mode, objs[start : start + CHUNK], index, columns, tables,
                              start == 0, fd, LIMIT)
        if text:
            write(text)
        if in_order and start + CHUNK < len(objs):
            upto = int(objs[start + CHUNK])
            by_object.release(upto)
            by_pointer.release(int(ix.pstart[upto]))


def _pages(ix: HeapIndex, mode: int) -> tuple[PagesBehind, PagesBehind]:
    """The arrays a listing in address order reads from start to end: per object and per
    pointer slot (not the addresses in JSON: they are also read at random, as targets)."""
    names = names_of(ix)
    per_object = [ix.size, ix.pstart, ix.phantom, ix.header, allocation_sites(ix).bucket_of,
                  *([] if mode == JSON else [ix.addr])]
    per_object += [a for a in (names.object_ids, names.typing and names.typing.object_type)
                   if a is not None]
    return PagesBehind(*per_object), PagesBehind(ix.poff, ix.pval, ix.pdst)


def _python(ix: HeapIndex, objs: np.ndarray, mode: int) -> None:
    def lines() -> Iterator[str]:
        for o in objs.tolist():
            if mode == TEXT:
                yield object_line(ix, o)
                yield from object_pointer_lines(ix, o)
            elif mode == JSON:
                yield json.dumps(found_object_json(ix, o))
            else:
                yield json.dumps(hx(int(ix.addr[o])))

    if mode == TEXT:
        write_lines(lines())
        return
    sep = "\n"
    for line in lines():
        sys.stdout.write(sep + line)
        sep = ",\n"
    sys.stdout.flush()


def write_listing(ix: HeapIndex, objs: np.ndarray, mode: int, native: bool = True) -> None:
    """The objects ``objs`` (ids) as ``--find`` prints them (TEXT), as the items of a JSON
    list of ``--find --json`` objects (JSON) or of their addresses (ADDRESSES), each on a line
    of its own: a newline before each item, a comma before all but the first."""
    if native and _cscan is not None:
        _native(ix, objs, mode)
    else:
        _python(ix, objs, mode)


def json_document(head: dict[str, Any], key: str, items: Callable[[], None],
                  tail: dict[str, Any] | None = None) -> None:
    """Write ``{**head, key: [...], **tail}`` as one JSON document whose list ``items()``
    writes to stdout as it goes."""
    opening = json.dumps(head)[:-1] + (", " if head else "")
    sys.stdout.write(f"{opening}{json.dumps(key)}: [")
    sys.stdout.flush()
    items()
    closing = json.dumps(tail or {})[1:]
    sys.stdout.write("\n]" + (", " if tail else "") + closing + "\n")
    sys.stdout.flush()

