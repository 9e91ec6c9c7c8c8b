"""What holds the memory: the largest retained sizes (objects and roots), what one object
retains, leak suspects (big retainers, their accumulation points, finalizer cycles)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from heapspurs.analysis.dominators import SUPER_ROOT, UNREACHED, dominator_tree
from heapspurs.analysis.kinds import kind_ids
from heapspurs.analysis.root_groups import RootGroup, root_labelling
from heapspurs.analysis.traverse import bfs_parents, path_to_source
from heapspurs.index import cache
from heapspurs.index.heap_index import CHUNK, HeapIndex
from heapspurs.index.workspace import scratch_for
from heapspurs.scan.raw import ROOT_KIND_NAMES


@dataclass
class Retainer:
    """One row of ``--top``: an object or a root group, what it retains, how a root reaches it."""

    retained: int
    percent: float
    obj: int | None = None  # an object ...
    group: RootGroup | None = None  # ... or a root group
    path: list[int] = field(default_factory=list)  # objects from a root down to ``obj``
    root: tuple[str, int, int] | None = None  # (kind, ref, slot) of the root starting ``path``


def root_parents(ix: HeapIndex) -> np.ndarray:
    """int32 per object: its parent on one shortest path from the roots (see bfs_parents)."""
    ws = scratch_for(ix, 16 * ix.count)
    wide = bfs_parents(ix.pstart, ix.pdst, ix.roots.obj, ix.count, blocked=ix.phantom, ws=ws)
    parent = ws.empty("root_parent", ix.count, np.int32)
    for lo in range(0, ix.count, CHUNK):
        parent[lo : lo + CHUNK] = wide[lo : lo + CHUNK]
    return parent


def largest(values: np.ndarray, k: int) -> np.ndarray:
    """Ids of the ``k`` largest values, ties to the lowest id, largest first (in chunks: no
    temporary per object)."""
    if k <= 0:
        return np.zeros(0, np.int64)
    picked: list[np.ndarray] = []
    for lo in range(0, len(values), CHUNK):
        part = values[lo : lo + CHUNK].astype(np.int64)
        if len(part) > k:
            cut = np.partition(part, len(part) - k)[len(part) - k]  # the k-th largest value
            above = np.nonzero(part > cut)[0]
            tied = np.nonzero(part == cut)[0][: k - len(above)]
            picked.append(np.concatenate([above, tied]) + lo)
        else:
            picked.append(np.arange(lo, lo + len(part), dtype=np.int64))
    ids = np.concatenate(picked) if picked else np.zeros(0, np.int64)
    order = np.lexsort((ids, -values[ids].astype(np.int64)))
    return ids[order][:k]


class Paths:
    """Shortest paths from the roots, one BFS for all questions."""

    def __init__(self, ix: HeapIndex):
        self.ix = ix
        self.parent = cache.derived(ix, "root_parent", lambda: root_parents(ix))

    def to(self, obj: int) -> tuple[list[int], tuple[str, int, int] | None]:
        if self.parent[obj] == -1:
            return [], None
        path = list(reversed(path_to_source(self.parent, obj)))
        rows = self.ix.roots_of(path[0])
        if not len(rows):
            return path, None
        r = int(rows[0])
        return path, (ROOT_KIND_NAMES[int(self.ix.roots.kind[r])], int(self.ix.roots.ref[r]),
                      int(self.ix.roots.slot[r]))


def top_retainers(ix: HeapIndex, count: int, phantoms: bool = False) -> list[Retainer]:
    """The ``count`` largest retained sizes among objects and root groups."""
    tree = dominator_tree(ix)
    total = max(tree.reachable_bytes, 1)
    ret = tree.retained
    cand = largest(ret, min(count, ix.count))
    cand = cand[ret[cand] > 0]
    rows = [Retainer(int(ret[o]), 100.0 * int(ret[o]) / total, obj=int(o)) for o in cand]
    groups = root_labelling(ix).groups
    rows += [Retainer(g.retained, 100.0 * g.retained / total, group=g) for g in groups
             if g.retained > 0]
    rows.sort(key=lambda r: (-r.retained, r.obj if r.obj is not None else -1))
    rows = rows[:count]
    paths = Paths(ix)
    for r in rows:
        if r.obj is not None:
            r.path, r.root = paths.to(r.obj)
    return rows


@dataclass
class Dominated:
    obj: int
    retained: int
    total: int  # children it dominates
    children: list[tuple[int, int]]  # (object, retained), largest first


def dominated_by(ix: HeapIndex, obj: int, limit: int = 20) -> Dominated:
    tree = dominator_tree(ix)
    kids = tree.children(obj)
    order = np.argsort(-tree.retained[kids].astype(np.int64), kind="stable")[:limit]
    return Dominated(obj, int(tree.retained[obj]), len(kids),
                     [(int(kids[i]), int(tree.retained[kids[i]])) for i in order.tolist()])


@dataclass
class Accumulation:
    """Where a big retainer's memory piles up: many children of a few kinds."""

    obj: int
    retained: int
    children: int
    kinds: list[tuple[str, int, int]]  # (kind, count, retained), largest first


@dataclass
class Suspect:
    retained: int
    percent: float
    obj: int | None = None
    group: RootGroup | None = None
    accumulation: Accumulation | None = None
    path: list[int] = field(default_factory=list)
    root: tuple[str, int, int] | None = None


@dataclass
class FinalizerCycle:
    obj: int  # the object with the finalizer
    finalizer: int  # index into raw.finalizers
    objects: int
    bytes: int


def accumulation_point(ix: HeapIndex, obj: int, share: float = 0.8) -> Accumulation:
    """Follow the dominator tree down while one child retains ``share`` of its parent."""
    tree = dominator_tree(ix)
    cur = obj
    while True:
        kids = tree.children(cur)
        if not len(kids):
            break
        big = kids[int(np.argmax(tree.retained[kids]))]
        if int(tree.retained[big]) < share * int(tree.retained[cur]):
            break
        cur = int(big)
    kids = tree.children(cur)
    ids, labels = kind_ids(ix, kids)
    count = np.bincount(ids, minlength=len(labels))
    nbytes = np.bincount(ids, weights=tree.retained[kids].astype(np.float64),
                         minlength=len(labels))
    kinds: dict[str, list[int]] = {}
    for i in np.nonzero(count)[0].tolist():
        entry = kinds.setdefault(labels[i], [0, 0])
        entry[0] += int(count[i])
        entry[1] += int(nbytes[i])
    ranked = sorted(((name, c, b) for name, (c, b) in kinds.items()), key=lambda t: -t[2])
    return Accumulation(cur, int(tree.retained[cur]), len(kids), ranked[:5])


def leak_suspects(ix: HeapIndex, threshold: float = 0.10) -> tuple[list[Suspect],
                                                                    list[FinalizerCycle]]:
    """Root groups and shared top-level objects retaining over ``threshold`` of the reachable
    heap, each with its accumulation point; and finalizer cycles nothing else holds (kept for
    the index and threshold: the explorer asks again)."""
    return ix.memo.get(f"suspects{threshold!r}", lambda: _leak_suspects(ix, threshold))


def _leak_suspects(ix: HeapIndex, threshold: float) -> tuple[list[Suspect],
                                                             list[FinalizerCycle]]:
    tree = dominator_tree(ix)
    total = max(tree.reachable_bytes, 1)
    lab = root_labelling(ix)
    suspects: list[Suspect] = []
    for gi, g in enumerate(lab.groups):
        if g.retained < threshold * total:
            continue
        mine = np.nonzero((lab.label == gi) & (tree.idom == SUPER_ROOT))[0]
        s = Suspect(g.retained, 100.0 * g.retained / total, group=g)
        if len(mine):
            top = int(mine[np.argmax(tree.retained[mine])])
            s.accumulation = accumulation_point(ix, top)
        suspects.append(s)
    shared = np.nonzero((tree.idom == SUPER_ROOT) & (lab.label < 0)
                        & (tree.retained >= threshold * total))[0]
    paths = Paths(ix) if len(shared) or suspects else None
    for o in shared.tolist():
        s = Suspect(int(tree.retained[o]), 100.0 * int(tree.retained[o]) / total, obj=o,
                    accumulation=accumulation_point(ix, o))
        suspects.append(s)
    for s in suspects:
        if paths is not None and s.accumulation is not None:
            s.path, s.root = paths.to(s.accumulation.obj)
    suspects.sort(key=lambda s: -s.retained)
    return suspects, finalizer_cycles(ix)


def finalizer_cycles(ix: HeapIndex) -> list[FinalizerCycle]:
    """Objects with a finalizer that only their own finalizer keeps alive: a cycle through the
    object, which the GC can never free (and the finalizer never runs)."""
    lab = root_labelling(ix)
    out = []
    own = {}
    for gi, g in enumerate(lab.groups):
        if g.kind == "finalizer":
            own[g.ref] = gi
    for i, f in enumerate(ix.raw.finalizers):
        if f.queued or i not in own:
            continue
        obj = ix.find(f.object)
        if obj < 0 or lab.label[obj] != own[i]:
            continue
        members = lab.label == own[i]
        out.append(FinalizerCycle(obj, i, int(members.sum()),
                                  int(ix.size[members].astype(np.int64).sum())))
    return out


def unreachable_objects(ix: HeapIndex) -> np.ndarray:
    """Objects no root reaches (phantoms excluded)."""
    tree = dominator_tree(ix)
    return np.nonzero((tree.idom == UNREACHED) & ~ix.phantom)[0]

