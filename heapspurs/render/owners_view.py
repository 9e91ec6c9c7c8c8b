"""``--owners N`` in text (an indented tree, owners as in ``--print``) and in JSON."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from heapspurs.analysis.owners import OwnerNode
from heapspurs.index.geometry import MALLOC_HEADER
from heapspurs.index.heap_index import HeapIndex
from heapspurs.names.naming import names_of
from heapspurs.render.objects_view import object_json, object_line
from heapspurs.render.records_text import hx, named
from heapspurs.render.roots_view import root_json, root_lines


def owners_text(ix: HeapIndex, obj: int, tree: list[OwnerNode], note: str | None,
                depth: int) -> Iterator[str]:
    yield object_line(ix, obj)
    if note:
        yield f"  ({note})"
    if not tree:
        yield "  nothing in the dump points at this object"
    stack = [(n, 1, obj) for n in reversed(tree)]
    while stack:
        node, level, owned = stack.pop()
        pad = "  " * level
        if node.obj is not None:
            head = object_line(ix, node.obj)
            via = f"Pointer[{node.field_index}]@{hx(node.slot)} = {hx(node.value)}"
        else:
            head, *rest = root_lines(ix, node.kind, node.ref)
            via = f"slot {named(node.slot, _symbol(ix, node))} = {hx(node.value)}"
        suffix = f" (offset = {node.offset})" if node.offset else ""
        if node.offset == MALLOC_HEADER and ix.header[owned]:
            suffix = " (the object, past its malloc header)"
        mark = " [cycle]" if node.cycle else " [already shown]" if node.seen else ""
        yield f"{pad}{head}{mark}"
        if node.obj is None:
            for line in rest:
                yield pad + line
        yield f"{pad}  via {via}{suffix}"
        stack.extend((c, level + 1, node.obj) for c in reversed(node.owners))


def _symbol(ix: HeapIndex, node: OwnerNode) -> str | None:
    return names_of(ix).global_name(node.slot) if node.kind in ("bss", "data") else None


def _node_json(ix: HeapIndex, node: OwnerNode) -> dict[str, Any]:
    out: dict[str, Any] = {
        "address": hx(int(ix.addr[node.obj])) if node.obj is not None else None,
        "kind": node.kind,
        "slot": hx(node.slot),
        "value": hx(node.value),
        "offset": node.offset,
    }
    if node.obj is not None:
        out["object"] = object_json(ix, node.obj)
    else:
        out.update(root_json(ix, node.kind, node.ref))
        out["symbol"] = _symbol(ix, node)
    if node.cycle:
        out["cycle"] = True
    if node.seen:
        out["seen"] = True
    out["owners"] = []
    return out


def owners_json(ix: HeapIndex, obj: int, tree: list[OwnerNode],
                note: str | None) -> dict[str, Any]:
    top: list[dict[str, Any]] = []
    stack = [(n, top) for n in reversed(tree)]
    while stack:
        node, dest = stack.pop()
        j = _node_json(ix, node)
        dest.append(j)
        stack.extend((c, j["owners"]) for c in reversed(node.owners))
    out: dict[str, Any] = {"object": object_json(ix, obj), "owners": top}
    if note:
        out["note"] = note
    return out
