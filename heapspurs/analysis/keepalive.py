"""The subgraph that keeps one object alive: every object on some path from a root to it.

Objects that reach the target only through the target itself (cycles hanging off it) are left out
unless asked for. Above a node budget only the shortest path from each anchor is kept, and the
count of owners left out is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from heapspurs.analysis.anchors import Anchor, find_anchors
from heapspurs.analysis.traverse import UNSEEN, bfs_parents
from heapspurs.index.heap_index import HeapIndex


@dataclass
class KeepAliveGraph:
    target: int
    nodes: list[int]  # object ids, target included
    edges: list[tuple[int, int, int]]  # (source object, pointer index, destination object)
    anchors: list[Anchor]
    left_out: int = 0  # owners dropped by the node budget
    finalizer_objects: set[int] = field(default_factory=set)
    cycle_edges: set[tuple[int, int]] = field(default_factory=set)  # finalizer-cycle edges


def _finalized_objects(ix: HeapIndex, anchors: list[Anchor]) -> set[int]:
    out = {ix.find(ix.raw.finalizers[a.ref].object) for a in anchors if a.kind == "finalizer"}
    return {o for o in out if o >= 0}


def keepalive_graph(ix: HeapIndex, obj: int, max_nodes: int = 200,
                    all_owners: bool = False) -> KeepAliveGraph:
    report = find_anchors(ix, obj)
    anchors = [a for a in report.anchors if not a.conservative] or report.anchors
    back = bfs_parents(ix.rstart, ix.rsrc, [obj], ix.count, blocked=ix.phantom)
    reaches = back != UNSEEN
    if all_owners:
        keep = reaches
    else:
        # Forward from the anchors' first objects, inside the set that reaches the target and
        # never through the target: what lies on a root-to-target path.
        inside = reaches.copy()
        dst = np.where(ix.pdst >= 0, ix.pdst, -1)
        dst = np.where(inside[np.maximum(dst, 0)] & (dst >= 0), dst, -1)
        starts = np.array([a.path[0] for a in anchors], np.int64)
        blocked = ix.phantom.copy()
        blocked[obj] = True
        fwd = bfs_parents(ix.pstart, dst, starts, ix.count, blocked=blocked)
        keep = (fwd != UNSEEN) & inside
        keep[obj] = True
    keep[list(_finalized_objects(ix, anchors))] = True  # draw the object whose finalizer holds
    nodes = np.nonzero(keep)[0]
    left_out = 0
    if len(nodes) > max_nodes:
        chosen = {obj}
        for a in anchors:
            chosen.update(a.path)
        chosen.update(_finalized_objects(ix, anchors))
        left_out = len(nodes) - len(chosen)
        keep = np.zeros(ix.count, bool)
        keep[list(chosen)] = True
        nodes = np.nonzero(keep)[0]
        on_path = {(a.path[i], a.path[i + 1]) for a in anchors for i in range(len(a.path) - 1)}
    else:
        on_path = None
    edges = []
    for u in nodes.tolist():
        s, e = int(ix.pstart[u]), int(ix.pstart[u + 1])
        for p in range(s, e):
            v = int(ix.pdst[p])
            if v >= 0 and keep[v] and (on_path is None or (u, v) in on_path):
                edges.append((u, p, v))
    g = KeepAliveGraph(obj, nodes.tolist(), edges, anchors, left_out)
    if on_path is not None:
        for a in anchors:
            if a.kind == "finalizer":
                fo = ix.find(ix.raw.finalizers[a.ref].object)
                s, e = int(ix.pstart[fo]), int(ix.pstart[fo + 1])
                g.edges.extend((fo, p, a.path[0]) for p in range(s, e)
                               if int(ix.pdst[p]) == a.path[0])
    fin_objs = {ix.find(f.object) for f in ix.raw.finalizers}
    g.finalizer_objects = {o for o in fin_objs if o >= 0 and keep[o]}
    for a in anchors:
        if a.kind == "finalizer":
            fo = ix.find(ix.raw.finalizers[a.ref].object)
            path = [fo, *a.path]
            g.cycle_edges.update(zip(path, path[1:], strict=False))
    return g
