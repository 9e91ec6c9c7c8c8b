"""Anchors: every distinct root that transitively reaches an object, each with one shortest path.

A reverse breadth-first search from the object over the resolved (interior-aware) edges marks every
object that reaches it; every root edge into a marked object is an anchor. When no root reaches a
real object, the answer says why that can happen and, if asked (or as the fallback), scans every
word of every stack frame for values that point into the marked objects: such conservative
anchors are candidates (address-taken locals are missing from the frames' pointer maps).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from heapspurs.analysis.traverse import DenseWalk, LevelWalk, bfs_parents
from heapspurs.index.heap_index import HeapIndex
from heapspurs.scan.raw import (
    ROOT_DEFER,
    ROOT_FINALIZER,
    ROOT_FRAME,
    ROOT_KIND_NAMES,
    ROOT_PANIC,
    ROOT_QUEUED_FINALIZER,
)


@dataclass
class Anchor:
    kind: str  # bss, data, frame, defer, panic, finalizer, queued_finalizer, other
    ref: int  # index of the frame / segment / finalizer / defer / panic record
    slot: int  # address of the pointer slot (finalizers: the finalized object)
    value: int  # the pointer stored in the slot
    path: list[int]  # object ids, from the first object the root points at to the target
    conservative: bool = False
    frame: int | None = None  # the frame holding the slot (frames, and defers/panics' frame)
    goroutine: int | None = None  # index into raw.goroutines


@dataclass
class AnchorReport:
    obj: int
    anchors: list[Anchor]
    phantom: bool = False
    reasons: list[str] = field(default_factory=list)


def frame_of_defer(ix: HeapIndex, defer_index: int) -> tuple[int | None, int | None]:
    """(frame, goroutine) of a defer record: the frame of its goroutine whose sp it carries."""
    d = ix.raw.defers[defer_index]
    g = _goroutine_by_address(ix, d.goroutine)
    if g is None:
        return None, None
    frames = ix.goroutine_frames(g)
    hit = frames[ix.raw.frame_sp[frames] == np.uint64(d.sp)]
    if len(hit) == 0:  # the sp may sit inside the frame rather than at its start
        inside = frames[(ix.raw.frame_sp[frames] <= d.sp)
                        & (ix.raw.frame_sp[frames] + ix.raw.frame_size[frames] > d.sp)]
        hit = inside
    return (int(hit[0]) if len(hit) else None), g


def _goroutine_by_address(ix: HeapIndex, address: int) -> int | None:
    table = ix.memo.get("goroutine_by_address",
                        lambda: {g.address: i for i, g in enumerate(ix.raw.goroutines)})
    return table.get(address)


def _describe(ix: HeapIndex, a: Anchor, root_kind: int) -> None:
    if root_kind == ROOT_FRAME:
        a.frame = a.ref
        g = int(ix.raw.frame_goroutine[a.ref])
        a.goroutine = g if g >= 0 else None
    elif root_kind == ROOT_DEFER:
        a.frame, a.goroutine = frame_of_defer(ix, a.ref)
    elif root_kind == ROOT_PANIC:
        a.goroutine = _goroutine_by_address(ix, ix.raw.panics[a.ref].goroutine)


def find_anchors(ix: HeapIndex, obj: int, conservative: bool = False) -> AnchorReport:
    # Goroutine descriptors are not expanded: "runtime.allgs -> g -> g._defer -> ..." is really
    # "held by goroutine N", which its defer, panic and frame roots already say.
    if ix.is_goroutine[obj]:  # (expanded itself: the dense walk, where it can be excepted)
        stop = ix.phantom | ix.is_goroutine
        stop[obj] = bool(ix.phantom[obj])
        walk: DenseWalk | LevelWalk = DenseWalk(
            bfs_parents(ix.rstart, ix.rsrc, [obj], ix.count, blocked=stop))
    else:
        walk = LevelWalk(ix.rstart, ix.rsrc, ix.pstart, ix.pdst, [obj], ix.count,
                         (ix.phantom, ix.is_goroutine))
    roots = ix.roots
    through_g = ix.is_goroutine[roots.obj] & (roots.obj != obj)
    rows = np.nonzero(walk.reached(roots.obj) & ~through_g)[0]
    paths = walk.paths(roots.obj[rows])
    best: dict[tuple[int, int, int], Anchor] = {}
    for r in rows:
        kind = int(roots.kind[r])
        key = (kind, int(roots.ref[r]), int(roots.slot[r]))
        path = paths[int(roots.obj[r])]
        if key in best and len(best[key].path) <= len(path):
            continue
        a = Anchor(ROOT_KIND_NAMES[kind], int(roots.ref[r]), int(roots.slot[r]),
                   int(roots.value[r]), path)
        _describe(ix, a, kind)
        best[key] = a
    anchors = sorted([*best.values(), *goroutine_anchors(ix, obj, walk)],
                     key=lambda a: (len(a.path), a.kind, a.slot))
    report = AnchorReport(obj, list(anchors), phantom=bool(ix.phantom[obj]))
    if conservative or not anchors:
        report.anchors.extend(conservative_anchors(ix, walk, best))
    if not anchors:
        report.reasons = no_anchor_reasons(ix, obj, report)
    return report


def goroutine_anchors(ix: HeapIndex, obj: int, walk: DenseWalk | LevelWalk) -> list[Anchor]:
    """Goroutine descriptors reaching the object other than through their defer/panic records."""
    out = []
    gobj = ix.goroutine_obj
    paths = walk.paths(gobj[(gobj >= 0) & (gobj != obj)])
    for gi, g in enumerate(gobj.tolist()):
        if g not in paths:
            continue
        path = paths[g][1:]
        first = int(ix.addr[path[0]])
        gaddr = ix.raw.goroutines[gi].address
        held = {d.address for d in ix.raw.defers if d.goroutine == gaddr}
        held |= {p.address for p in ix.raw.panics if p.goroutine == gaddr}
        if first in held:
            continue
        a = Anchor("goroutine", gi, gaddr, first, path)
        a.goroutine = gi
        out.append(a)
    return out


def conservative_anchors(ix: HeapIndex, walk: DenseWalk | LevelWalk,
                         precise: dict[tuple[int, int, int], Anchor]) -> list[Anchor]:
    """Every aligned word of every stack frame that points into an object reaching the target."""
    raw = ix.raw
    psize = ix.params.ptr_size
    dtype = np.dtype(">u8" if ix.params.big_endian else "<u8") if psize == 8 else \
        np.dtype(">u4" if ix.params.big_endian else "<u4")
    found: list[Anchor] = []
    for f in range(len(raw.frame_sp)):
        data = ix.frame_contents(f)
        words = np.frombuffer(data[: len(data) // psize * psize], dtype=dtype).astype(np.uint64)
        if not len(words):
            continue
        objs = ix.resolve(words)
        hit = np.nonzero((objs >= 0) & walk.reached(np.maximum(objs, 0)))[0]
        paths = walk.paths(objs[hit])
        for i in hit:
            slot = int(raw.frame_sp[f]) + int(i) * psize
            if (ROOT_FRAME, f, slot) in precise:
                continue
            a = Anchor("frame", f, slot, int(words[i]), paths[int(objs[i])],
                       conservative=True)
            _describe(ix, a, ROOT_FRAME)
            found.append(a)
    found.sort(key=lambda a: (len(a.path), a.slot))
    return found


def no_anchor_reasons(ix: HeapIndex, obj: int, report: AnchorReport) -> list[str]:
    """Plain-language reasons a real object can be in the dump with no root reaching it."""
    if report.phantom:
        return ["this is a phantom: the reserved tail of a small-object span (heap bitmap or "
                "inline mark bits) that the runtime dumps as if it were an object; nothing "
                "points to it and it is not a real allocation"]
    reasons = []
    if report.anchors:
        reasons.append(
            "the dump's frame pointer maps omit address-taken locals (stack objects); the "
            f"conservative scan of frame contents found {len(report.anchors)} candidate "
            "slot(s) below that may be holding it")
    fins = [f for f in ix.raw.finalizers if not f.queued and ix.find(f.object) == obj]
    if fins:
        reasons.append("it has a finalizer registered but nothing else holds it: the runtime "
                       "will queue the finalizer at the next GC")
    reasons.append("it may have been allocated after the last GC and already be garbage: the "
                   "runtime dumps every allocated object, live or not")
    reasons.append("it may be held by runtime memory the dump does not include "
                   "(runtime.AddCleanup, weak pointers, or other-root records no longer written)")
    return reasons


def finalizer_of(ix: HeapIndex, anchor: Anchor) -> int | None:
    """For finalizer anchors: the object id whose finalizer it is."""
    if anchor.kind not in (ROOT_KIND_NAMES[ROOT_FINALIZER], ROOT_KIND_NAMES[ROOT_QUEUED_FINALIZER]):
        return None
    o = ix.find(ix.raw.finalizers[anchor.ref].object)
    return o if o >= 0 else None
