"""How a root (segment, stack frame, defer, panic, finalizer) is shown in text and JSON."""

from __future__ import annotations

from typing import Any

from heapspurs.analysis.anchors import frame_of_defer
from heapspurs.index.heap_index import HeapIndex
from heapspurs.names.naming import names_of
from heapspurs.render.objects_view import frame_line, print_names, stack_lines
from heapspurs.render.records_text import finalizer_line, hx


def segment_line(ix: HeapIndex, ref: int) -> str:
    s = ix.raw.segments[ref]
    kind = "BssSegment" if s.bss else "DataSegment"
    return f"{kind} @ {hx(s.address)}-{hx(s.end)} with {len(s.ptr_off)} pointers"


def root_frame_and_goroutine(ix: HeapIndex, kind: str, ref: int) -> tuple[int | None, int | None]:
    if kind == "frame":
        g = int(ix.raw.frame_goroutine[ref])
        return ref, (g if g >= 0 else None)
    if kind == "defer":
        return frame_of_defer(ix, ref)
    if kind == "goroutine":
        return None, ref
    if kind == "panic":
        p = ix.raw.panics[ref]
        for i, g in enumerate(ix.raw.goroutines):
            if g.address == p.goroutine:
                return None, i
    return None, None


def root_lines(ix: HeapIndex, kind: str, ref: int) -> list[str]:
    """Header line(s) of a root, stack frames with their goroutine's whole stack under them."""
    frame, g = root_frame_and_goroutine(ix, kind, ref)
    if kind in ("bss", "data"):
        return [segment_line(ix, ref)]
    if kind == "frame":
        return [frame_line(ix, ref), *stack_lines(ix, g, frame)]
    if kind == "defer":
        d = ix.raw.defers[ref]
        where = f" in {ix.frame_name(frame)}" if frame is not None else ""
        return [f"DeferRecord @ {hx(d.address)}: a pending defer{where} (sp {hx(d.sp)})",
                *stack_lines(ix, g, frame)]
    if kind == "goroutine":
        return [f"Goroutine descriptor (runtime.g) @ {hx(ix.raw.goroutines[ref].address)}",
                *stack_lines(ix, g, None)]
    if kind == "panic":
        p = ix.raw.panics[ref]
        return [f"PanicRecord @ {hx(p.address)}: the argument of a running panic",
                *stack_lines(ix, g, None)]
    if kind in ("finalizer", "queued_finalizer"):
        return [finalizer_line(ix.raw.finalizers[ref], print_names(names_of(ix)))]
    if kind == "other":
        r = ix.raw.other_roots[ref]
        return [f"OtherRoot @ {hx(r.address)}: {r.description}"]
    return [f"{kind} root #{ref}"]


def root_json(ix: HeapIndex, kind: str, ref: int) -> dict[str, Any]:
    """The keys every JSON answer gives a root: function and goroutine (null where n/a)."""
    frame, g = root_frame_and_goroutine(ix, kind, ref)
    out: dict[str, Any] = {
        "function": ix.frame_name(frame) if frame is not None else None,
        "goroutine": ix.raw.goroutines[g].goid if g is not None else None,
    }
    if frame is not None:
        out["frame_sp"] = hx(int(ix.raw.frame_sp[frame]))
        out["depth"] = int(ix.raw.frame_depth[frame])
    return out
