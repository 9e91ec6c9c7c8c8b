"""``--top``, ``--retained`` and ``--suspects`` in text and JSON: retained sizes with the path
from a root, accumulation points, finalizer cycles."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from heapspurs.analysis.retention import (
    Accumulation,
    Dominated,
    FinalizerCycle,
    Retainer,
    Suspect,
)
from heapspurs.analysis.root_groups import RootGroup
from heapspurs.index.heap_index import HeapIndex
from heapspurs.names.naming import names_of
from heapspurs.render.objects_view import object_json, object_line, size_text
from heapspurs.render.records_text import hx


def group_text(ix: HeapIndex, g: RootGroup) -> str:
    """A root group in one phrase: ``BSS main.cache``, ``stack frame main.worker (goroutine
    7)``, ``finalizer of 0x...``."""
    raw = ix.raw
    if g.kind in ("bss", "data"):
        seg = raw.segments[g.ref]
        where = g.symbol or f"segment {hx(seg.address)}-{hx(seg.end)}"
        return f"{'BSS' if seg.bss else 'Data'} {where}"
    if g.kind == "frame":
        gi = int(raw.frame_goroutine[g.ref])
        goid = f" (goroutine {raw.goroutines[gi].goid})" if gi >= 0 else ""
        return f"stack frame {ix.frame_name(g.ref)}{goid}"
    if g.kind == "defer":
        return f"pending defer at {hx(raw.defers[g.ref].address)}"
    if g.kind == "panic":
        return f"panic at {hx(raw.panics[g.ref].address)}"
    if g.kind in ("finalizer", "queued_finalizer"):
        f = raw.finalizers[g.ref]
        fn = names_of(ix).funcval_name(f.funcval) or names_of(ix).function_name(f.fn_pc)
        return f"{g.kind.replace('_', ' ')} of {hx(f.object)}" + (f" ({fn})" if fn else "")
    return f"{g.kind} root"


def _root_phrase(ix: HeapIndex, root: tuple[str, int, int] | None) -> str:
    if root is None:
        return "?"
    kind, ref, slot = root
    if kind in ("bss", "data"):
        sym = names_of(ix).global_name(slot)
        seg = ix.raw.segments[ref]
        return f"{'BSS' if seg.bss else 'Data'} {sym or hx(slot)}"
    if kind == "frame":
        return f"stack frame {ix.frame_name(ref)}"
    return kind.replace("_", " ")


def _obj_phrase(ix: HeapIndex, o: int) -> str:
    name = names_of(ix).display_name(o)
    return f"{hx(int(ix.addr[o]))}{' ' + name if name else ''} ({size_text(int(ix.size[o]))})"


def path_line(ix: HeapIndex, root: tuple[str, int, int] | None, path: list[int]) -> str:
    return " -> ".join([_root_phrase(ix, root), *(_obj_phrase(ix, o) for o in path)])


def top_text(ix: HeapIndex, rows: list[Retainer], reachable: int) -> Iterator[str]:
    yield f"Largest retained sizes (reachable heap: {size_text(reachable)}):"
    yield f"{'retained':>10} {'share':>6}  what"
    for r in rows:
        what = group_text(ix, r.group) if r.group is not None else object_line(ix, r.obj)
        yield f"{size_text(r.retained):>10} {r.percent:5.1f}%  {what}"
        if r.obj is not None and r.path:
            yield f"{'':18}path: {path_line(ix, r.root, r.path)}"


def _group_json(ix: HeapIndex, g: RootGroup) -> dict[str, Any]:
    return {"kind": g.kind, "address": None, "slot": hx(g.slot), "name": group_text(ix, g),
            "symbol": g.symbol, "type": None, "size": None}


def _object_row(ix: HeapIndex, o: int) -> dict[str, Any]:
    j = object_json(ix, o)
    return {"kind": "object", "address": j["address"], "slot": None, "name": j["name"],
            "symbol": None, "type": j["type"], "size": j["size"]}


def top_json(ix: HeapIndex, rows: list[Retainer], reachable: int) -> dict[str, Any]:
    out = []
    for r in rows:
        row = _group_json(ix, r.group) if r.group is not None else _object_row(ix, r.obj)
        row.update(retained=r.retained, percent=round(r.percent, 3),
                   path=[hx(int(ix.addr[o])) for o in r.path], objects=(
                       r.group.objects if r.group is not None else None))
        if r.root is not None:
            row["root"] = {"kind": r.root[0], "slot": hx(r.root[2]),
                           "symbol": names_of(ix).global_name(r.root[2])
                           if r.root[0] in ("bss", "data") else None}
        out.append(row)
    return {"reachable_bytes": reachable, "rows": out}


def dominated_text(ix: HeapIndex, d: Dominated, reachable: int) -> Iterator[str]:
    yield object_line(ix, d.obj)
    share = 100.0 * d.retained / max(reachable, 1)
    yield (f"  retains {size_text(d.retained)} ({share:.1f}% of the reachable heap); "
           f"it immediately dominates {d.total} object(s)"
           + (", largest first:" if d.children else "."))
    for o, ret in d.children:
        yield f"  {size_text(ret):>10}  {object_line(ix, o)}"
    if d.total > len(d.children):
        yield f"  ... and {d.total - len(d.children)} more"


def dominated_json(ix: HeapIndex, d: Dominated, reachable: int) -> dict[str, Any]:
    return {"object": object_json(ix, d.obj), "retained": d.retained,
            "percent": round(100.0 * d.retained / max(reachable, 1), 3),
            "dominated": d.total,
            "children": [{**object_json(ix, o), "retained": r} for o, r in d.children]}


def _accumulation_lines(ix: HeapIndex, a: Accumulation) -> Iterator[str]:
    yield f"   accumulation point: {object_line(ix, a.obj)}, retains {size_text(a.retained)}"
    for name, count, nbytes in a.kinds:
        yield f"     {count} x {name}: {size_text(nbytes)}"
    if a.children > sum(c for _, c, _ in a.kinds):
        yield f"     ({a.children} children in all)"


def suspects_text(ix: HeapIndex, suspects: list[Suspect], cycles: list[FinalizerCycle],
                  reachable: int, threshold: float) -> Iterator[str]:
    yield (f"Leak suspects: retainers of over {threshold * 100:g}% of the reachable heap "
           f"({size_text(reachable)}):")
    if not suspects:
        yield "  none"
    for i, s in enumerate(suspects, 1):
        what = group_text(ix, s.group) if s.group is not None else (
            object_line(ix, s.obj) + " (shared by several roots)")
        count = f" in {s.group.objects} objects" if s.group is not None else ""
        yield f"{i}. {what} retains {size_text(s.retained)} ({s.percent:.1f}%){count}"
        if s.accumulation is not None:
            yield from _accumulation_lines(ix, s.accumulation)
        if s.path:
            yield f"   path: {path_line(ix, s.root, s.path)}"
    if cycles:
        yield "Finalizer cycles (only their own finalizer keeps them: never collected):"
        for c in cycles:
            f = ix.raw.finalizers[c.finalizer]
            fn = names_of(ix).funcval_name(f.funcval)
            yield (f"  {object_line(ix, c.obj)}{' (finalizer ' + fn + ')' if fn else ''}: "
                   f"{c.objects} objects, {size_text(c.bytes)}")


def suspects_json(ix: HeapIndex, suspects: list[Suspect], cycles: list[FinalizerCycle],
                  reachable: int, threshold: float) -> dict[str, Any]:
    rows = []
    for s in suspects:
        row = _group_json(ix, s.group) if s.group is not None else _object_row(ix, s.obj)
        row.update(retained=s.retained, percent=round(s.percent, 3),
                   path=[hx(int(ix.addr[o])) for o in s.path])
        a = s.accumulation
        row["accumulation"] = None if a is None else {
            "address": hx(int(ix.addr[a.obj])), "retained": a.retained, "children": a.children,
            "kinds": [{"name": n, "count": c, "retained": b} for n, c, b in a.kinds]}
        rows.append(row)
    return {"threshold": threshold, "reachable_bytes": reachable, "suspects": rows,
            "finalizer_cycles": [
                {"address": hx(int(ix.addr[c.obj])), "objects": c.objects, "bytes": c.bytes,
                 "function": names_of(ix).funcval_name(ix.raw.finalizers[c.finalizer].funcval)}
                for c in cycles]}
