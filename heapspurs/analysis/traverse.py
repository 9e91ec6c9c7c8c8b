"""Breadth-first search over CSR edge lists: a native queue BFS (``_cgraph.bfs``, beside the other
graph walks), or one whole frontier at a time in numpy where the extension is not built (no
per-node Python either way)."""

from __future__ import annotations

import numpy as np

from heapspurs.index.workspace import Workspace
from heapspurs.scan.address_order import gather_ranges

try:
    from heapspurs.analysis import _cgraph
except ImportError:  # pragma: no cover - exercised only where the extension was not built
    _cgraph = None

UNSEEN = -1
SOURCE = -2


def bfs_parents(indptr: np.ndarray, targets: np.ndarray, sources: np.ndarray, n: int,
                blocked: np.ndarray | None = None, native: bool = True,
                ws: Workspace | None = None) -> np.ndarray:
    """Parent of each node on one shortest path from ``sources`` (SOURCE for sources, UNSEEN if
    unreached). ``targets[indptr[u]:indptr[u+1]]`` are u's neighbours; negative targets are
    ignored; nodes in ``blocked`` are never expanded (but can be reached). The parents and the
    queue come from ``ws`` (in memory by default)."""
    if native and _cgraph is not None and n < 2**31:
        ws = ws or Workspace()
        parent = ws.empty("bfs_parent", n, np.int64)
        queue = ws.empty("bfs_queue", n, np.int32)
        src = np.ascontiguousarray(np.asarray(sources, np.int64))
        tgt = np.ascontiguousarray(targets, np.int32)
        blk = None if blocked is None else np.ascontiguousarray(blocked, bool).view(np.uint8)
        _cgraph.bfs(np.ascontiguousarray(indptr, np.int64), tgt, src, blk, parent, n, len(tgt),
                    len(src), queue)
        del queue
        ws.forget("bfs_queue")
        return parent
    parent = np.full(n, UNSEEN, np.int64)
    frontier = np.unique(np.asarray(sources, np.int64))
    frontier = frontier[frontier >= 0]
    parent[frontier] = SOURCE
    while len(frontier):
        if blocked is not None:
            frontier = frontier[~blocked[frontier]]
        starts = indptr[frontier]
        counts = indptr[frontier + 1] - starts
        idx = gather_ranges(starts, counts)
        nb = targets[idx].astype(np.int64)
        par = np.repeat(frontier, counts)
        fresh = nb >= 0
        fresh[fresh] = parent[nb[fresh]] == UNSEEN
        nb, par = nb[fresh], par[fresh]
        frontier, first = np.unique(nb, return_index=True)
        parent[frontier] = par[first]
    return parent


class LocalParents:
    """The parents of a BFS that reached few nodes, kept for those only (sorted node ids):
    indexing with a node id, or an array of them, gives what the dense parent array would."""

    def __init__(self, nodes: np.ndarray, parents: np.ndarray, n: int):
        order = np.argsort(nodes, kind="stable")
        self.nodes, self.parents, self.n = nodes[order], parents[order], n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, v: int | np.ndarray) -> int | np.ndarray:
        if isinstance(v, (int, np.integer)):
            i = int(np.searchsorted(self.nodes, v))
            return int(self.parents[i]) if i < len(self.nodes) and self.nodes[i] == v else UNSEEN
        v = np.asarray(v, np.int64)
        i = np.minimum(np.searchsorted(self.nodes, v), max(len(self.nodes) - 1, 0))
        if not len(self.nodes):
            return np.full(v.shape, UNSEEN, np.int64)
        return np.where(self.nodes[i] == v, self.parents[i], UNSEEN)


def local_bfs_parents(indptr: np.ndarray, targets: np.ndarray, sources: np.ndarray, n: int,
                      blocked: tuple[np.ndarray, ...] = ()) -> LocalParents | np.ndarray:
    """:func:`bfs_parents` for a question about one object: memory and pages touched in
    proportion to the nodes it reaches (a node in any of ``blocked`` is not expanded). Where
    it reaches more than a sixteenth of the heap, the dense walk."""
    if _cgraph is not None and n < 2**31 and len(blocked) <= 2:
        src = np.ascontiguousarray(np.asarray(sources, np.int64))
        blk = [np.ascontiguousarray(b, bool).view(np.uint8) for b in blocked]
        blk += [None] * (2 - len(blk))
        pairs = _cgraph.bfs_local(np.ascontiguousarray(indptr, np.int64),
                                  np.ascontiguousarray(targets, np.int32), src, blk[0], blk[1],
                                  n, len(targets), len(src), max(1024, n // 16))
        if pairs is not None:
            both = np.frombuffer(pairs, np.int64).reshape(-1, 2)
            return LocalParents(both[:, 0].copy(), both[:, 1].copy(), n)
    stop = np.zeros(n, bool)
    for b in blocked:
        stop |= b
    return bfs_parents(indptr, targets, sources, n, blocked=stop)


def path_to_source(parent: np.ndarray, node: int, limit: int = 1_000_000) -> list[int]:
    """Nodes from ``node`` following parents up to a source (inclusive of both ends)."""
    path = [node]
    while parent[path[-1]] >= 0 and len(path) < limit:
        path.append(int(parent[path[-1]]))
    return path
