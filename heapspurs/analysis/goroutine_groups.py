"""``--goroutines``: goroutines grouped by identical stacks (the goroutine profile's debug=1
view), with what each group's frames and pending defers retain together (from the roots'
dominance: objects only that group reaches), largest first."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from heapspurs.analysis.anchors import frame_of_defer
from heapspurs.analysis.root_groups import label_objects, retained_by
from heapspurs.index.heap_index import HeapIndex
from heapspurs.scan.raw import ROOT_DEFER, ROOT_FRAME, ROOT_PANIC


@dataclass
class GoroutineGroup:
    functions: list[str]  # innermost frame first
    goroutines: list[int] = field(default_factory=list)  # indexes into raw.goroutines
    status: str = ""
    wait_reason: str = ""
    wait_since: int = 0  # the earliest runtime nanotime a member started waiting (0: unknown)
    # How long that member has waited at least: from its wait_since to the latest wait_since of
    # any goroutine (the dump has no clock; the runtime stamps waits at GC starts).
    longest_wait_ns: int = 0
    retained: int = 0
    objects: int = 0


def _stack(ix: HeapIndex, g: int) -> tuple[str, ...]:
    frames = ix.goroutine_frames(g)
    depth = ix.raw.frame_depth[frames]
    return tuple(ix.frame_name(int(f)) for f in frames[np.argsort(depth, kind="stable")])


def goroutine_groups(ix: HeapIndex, system: bool = False) -> list[GoroutineGroup]:
    """Groups of goroutines with the same stack (runtime goroutines only with ``system``;
    kept for the index: the explorer asks again)."""
    return ix.memo.get(f"goroutine_groups{int(system)}", lambda: _groups(ix, system))


def _groups(ix: HeapIndex, system: bool) -> list[GoroutineGroup]:
    raw = ix.raw
    by_stack: dict[tuple[str, ...], int] = {}
    groups: list[GoroutineGroup] = []
    group_of = np.full(len(raw.goroutines), -1, np.int64)
    for i, g in enumerate(raw.goroutines):
        if g.system and not system:
            continue
        stack = _stack(ix, i)
        gid = by_stack.get(stack)
        if gid is None:
            gid = by_stack[stack] = len(groups)
            groups.append(GoroutineGroup(list(stack)))
        groups[gid].goroutines.append(i)
        group_of[i] = gid
    # Each root edge belongs to its goroutine's group, or to one group for all other roots.
    other = len(groups)
    roots = ix.roots
    seed_group = np.full(len(roots.obj), other, np.int32)
    frames = roots.kind == ROOT_FRAME
    fg = raw.frame_goroutine[roots.ref[frames]]
    seed_group[frames] = np.where(fg >= 0, group_of[np.maximum(fg, 0)], other)
    for kind, lookup in ((ROOT_DEFER, lambda r: frame_of_defer(ix, r)[1]),
                         (ROOT_PANIC, lambda r: _panic_goroutine(ix, r))):
        for row in np.nonzero(roots.kind == kind)[0].tolist():
            g = lookup(int(roots.ref[row]))
            if g is not None and group_of[g] >= 0:
                seed_group[row] = group_of[g]
    seed_group[seed_group < 0] = other
    label = label_objects(ix, roots.obj, seed_group)
    nbytes, count = retained_by(ix, label, other + 1)
    for gid, grp in enumerate(groups):
        grp.retained, grp.objects = int(nbytes[gid]), int(count[gid])
        members = [raw.goroutines[i] for i in grp.goroutines]
        grp.status = Counter(m.status_name for m in members).most_common(1)[0][0]
        grp.wait_reason = Counter(m.wait_reason for m in members).most_common(1)[0][0]
        waits = [m.wait_since for m in members if m.wait_since]
        grp.wait_since = min(waits) if waits else 0
    latest = max((g.wait_since for g in raw.goroutines), default=0)
    for grp in groups:
        grp.longest_wait_ns = latest - grp.wait_since if grp.wait_since else 0
    groups.sort(key=lambda g: (-g.retained, -len(g.goroutines), g.functions))
    return groups


def _panic_goroutine(ix: HeapIndex, ref: int) -> int | None:
    p = ix.raw.panics[ref]
    for i, g in enumerate(ix.raw.goroutines):
        if g.address == p.goroutine:
            return i
    return None
