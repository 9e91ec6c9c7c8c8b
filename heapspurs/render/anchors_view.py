"""``--anchors`` in text (the original's root headers, stacks indented) and in JSON."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from heapspurs.analysis.anchors import Anchor, AnchorReport, finalizer_of
from heapspurs.index.heap_index import HeapIndex
from heapspurs.names.naming import names_of
from heapspurs.render.objects_view import object_json, object_line
from heapspurs.render.records_text import hx, named
from heapspurs.render.roots_view import root_json, root_lines


def path_text(ix: HeapIndex, path: list[int]) -> str:
    """Objects from the root's down to the target; with types, the field each hop goes through
    (``0x... main.Report (32 B) .Buf -> 0x... [1000]uint8 (1024 B)``)."""
    names = names_of(ix)
    parts = []
    for i, o in enumerate(path):
        name = names.display_name(o)
        text = f"{hx(int(ix.addr[o]))}{' ' + name if name else ''} ({int(ix.size[o])} B)"
        if i + 1 < len(path) and names.typing is not None:
            field = _field_to(ix, o, path[i + 1])
            if field:
                text += f" {field}"
        parts.append(text)
    return " -> ".join(parts)


def _field_to(ix: HeapIndex, src: int, dst: int) -> str | None:
    offs, _, targets = ix.pointers(src)
    hit = np.nonzero(targets == dst)[0]
    return names_of(ix).field_at(src, int(offs[hit[0]])) if len(hit) else None


def anchor_symbol(ix: HeapIndex, a: Anchor) -> str | None:
    """The global a data/BSS anchor's slot lies in (``main.cache+0x8``), when names are known."""
    return names_of(ix).global_name(a.slot) if a.kind in ("bss", "data") else None


def slot_text(ix: HeapIndex, a: Anchor) -> str:
    if a.kind in ("finalizer", "queued_finalizer"):
        return f"finalizer of the object at {hx(a.slot)}"
    if a.kind == "frame":
        off = a.slot - int(ix.raw.frame_sp[a.ref])
        return f"slot {hx(a.slot)} (frame offset {off}) = {hx(a.value)}"
    if a.kind in ("bss", "data"):
        return f"slot {named(a.slot, anchor_symbol(ix, a))} = {hx(a.value)}"
    return f"{hx(a.slot)} -> {hx(a.value)}"


def anchors_text(ix: HeapIndex, report: AnchorReport, note: str | None) -> Iterator[str]:
    yield object_line(ix, report.obj)
    if note:
        yield f"  ({note})"
    precise = [a for a in report.anchors if not a.conservative]
    guesses = [a for a in report.anchors if a.conservative]
    if precise:
        yield f"{len(precise)} anchor(s):"
    else:
        yield "No root in the dump reaches this object."
        for reason in report.reasons:
            yield f"  - {reason}"
    for a in precise:
        yield from _one(ix, a)
    if guesses:
        yield (f"{len(guesses)} conservative candidate(s) (a word in a stack frame that looks "
               "like a pointer; not in the frame's pointer map):")
        for a in guesses:
            yield from _one(ix, a)


def _one(ix: HeapIndex, a: Anchor) -> Iterator[str]:
    head, *rest = root_lines(ix, a.kind, a.ref)
    symbol = anchor_symbol(ix, a)
    yield f"{head} via {symbol} ({hx(a.slot)})" if symbol else head
    yield from rest
    yield f"  {slot_text(ix, a)}"
    fin = finalizer_of(ix, a)
    if fin is not None and fin in a.path:
        yield f"  (a cycle through the object with the finalizer, {hx(int(ix.addr[fin]))})"
    yield f"  path: {path_text(ix, a.path)}"


def anchors_json(ix: HeapIndex, report: AnchorReport, note: str | None) -> dict[str, Any]:
    rows = []
    for a in report.anchors:
        row: dict[str, Any] = {
            "kind": a.kind,
            "slot": hx(a.slot),
            "value": hx(a.value),
            "symbol": anchor_symbol(ix, a),
            **root_json(ix, a.kind, a.ref),
            "path": [hx(int(ix.addr[o])) for o in a.path],
        }
        if a.conservative:
            row["conservative"] = True
        fin = finalizer_of(ix, a)
        if fin is not None:
            row["finalizer_object"] = hx(int(ix.addr[fin]))
        rows.append(row)
    out: dict[str, Any] = {"object": object_json(ix, report.obj), "anchors": rows}
    if note:
        out["note"] = note
    if report.reasons:
        out["reasons"] = report.reasons
    return out
