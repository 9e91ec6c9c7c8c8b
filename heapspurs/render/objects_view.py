"""How one object, one root and one address resolution look in text and in JSON."""

from __future__ import annotations

from typing import Any

import numpy as np

from heapspurs.index.geometry import MALLOC_HEADER
from heapspurs.index.heap_index import HeapIndex
from heapspurs.names.alloc_sites import allocation_sites
from heapspurs.names.naming import Names, names_of
from heapspurs.render.records_text import (
    PrintNames,
    frame_header,
    goroutine_header,
    hx,
    named,
    object_header,
)


def size_text(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} kiB"
    return f"{n / (1024 * 1024):.1f} MiB"


def object_line(ix: HeapIndex, obj: int) -> str:
    """``Object @ 0x... with N pointers in M bytes``, ``Object`` replaced by its name if known."""
    line = object_header(int(ix.addr[obj]), ix.npointers(obj), int(ix.size[obj]),
                         names_of(ix).display_name(obj))
    site = allocation_sites(ix).site(obj)
    if site:
        line += f" (allocated at {site})"
    if ix.phantom[obj]:
        line += " [phantom]"
    return line


def object_json(ix: HeapIndex, obj: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "address": hx(int(ix.addr[obj])),
        "size": int(ix.size[obj]),
        "pointers": ix.npointers(obj),
        "name": names_of(ix).object_name(obj),
        "type": names_of(ix).type_name(obj),
        "phantom": bool(ix.phantom[obj]),
        "allocation": allocation_json(ix, obj),
        "malloc_header": bool(ix.header[obj]),
    }
    if ix.header[obj]:
        out["data_address"] = hx(int(ix.addr[obj]) + MALLOC_HEADER)
    return out


def allocation_json(ix: HeapIndex, obj: int) -> list[dict[str, Any]] | None:
    """The object's allocation stack, innermost frame first (None: not sampled)."""
    stack = allocation_sites(ix).stack(obj)
    if stack is None:
        return None
    return [{"function": f.function, "file": f.file, "line": f.line} for f in stack]


def resolution_note(ix: HeapIndex, address: int, obj: int) -> str | None:
    """How an address the user gave relates to the object it resolved to (None: its start)."""
    offset = address - int(ix.addr[obj])
    if offset == 0:
        return None
    if offset == MALLOC_HEADER and ix.header[obj]:
        return f"object at {hx(address)} (+8 past its malloc header at {hx(int(ix.addr[obj]))})"
    return (f"{hx(address)} is an interior address: offset {offset} inside the object at "
            f"{hx(int(ix.addr[obj]))}")


def stack_lines(ix: HeapIndex, goroutine: int | None, mark_frame: int | None,
                indent: str = "  ") -> list[str]:
    """The goroutine header and its whole stack, one function per line, ``>`` at one frame."""
    if goroutine is None:
        return []
    g = ix.raw.goroutines[goroutine]
    lines = [indent + goroutine_header(g)]
    for f in ix.goroutine_frames(goroutine).tolist():
        mark = "> " if f == mark_frame else "  "
        lines.append(f"{indent}  {mark}{ix.frame_name(f)}")
    return lines


def frame_line(ix: HeapIndex, frame: int) -> str:
    raw = ix.raw
    return frame_header(int(raw.frame_depth[frame]), int(raw.frame_sp[frame]),
                        ix.frame_name(frame),
                        int(raw.frame_pstart[frame + 1] - raw.frame_pstart[frame]),
                        int(raw.frame_size[frame]), int(raw.frame_child[frame]))


def object_pointer_lines(ix: HeapIndex, obj: int, indent: str = "  ") -> list[str]:
    """The object's non-nil pointers as ``--print`` shows them, each value with its name."""
    offs, vals, _ = ix.pointers(obj)
    keep = np.nonzero(vals)[0]
    base = int(ix.addr[obj])
    names = names_of(ix).value_names(vals[keep])
    return [f"{indent}Pointer[{i}]@{hx(base + int(offs[i]))} = {named(int(vals[i]), name)}"
            for i, name in zip(keep.tolist(), names, strict=True)]


def object_pointers_json(ix: HeapIndex, obj: int) -> list[dict[str, Any]]:
    offs, vals, dst = ix.pointers(obj)
    keep = np.nonzero(vals)[0]
    base = int(ix.addr[obj])
    names = names_of(ix).value_names(vals[keep])
    return [{"index": i, "slot": hx(base + int(offs[i])), "value": hx(int(vals[i])),
             "name": name, "target": hx(int(ix.addr[dst[i]])) if dst[i] >= 0 else None}
            for i, name in zip(keep.tolist(), names, strict=True)]


def found_object_json(ix: HeapIndex, obj: int) -> dict[str, Any]:
    """One object of ``--find --json``: the object with its non-nil pointers."""
    return {**object_json(ix, obj), "pointer_count": ix.npointers(obj),
            "pointers": object_pointers_json(ix, obj)}


def print_names(names: Names) -> PrintNames:
    """The namers ``--print`` and the record lines use, from the names the user gave."""
    table = names.print_table()
    return PrintNames(value=table.label, slot=names.global_name, object=names.object_at,
                      function=names.function_name, funcval=names.funcval_name,
                      bucket=names.bucket_site)
