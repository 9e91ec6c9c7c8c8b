"""Breadth-first search over CSR edge lists: a native queue BFS (``_cgraph.bfs``, beside the other
graph walks), or one whole frontier at a time in numpy where the extension is not built (no
per-node Python either way)."""

from __future__ import annotations

import numpy as np

from heapspurs.scan.address_order import gather_ranges

try:
    from heapspurs.analysis import _cgraph
except ImportError:  # pragma: no cover - exercised only where the extension was not built
    _cgraph = None

UNSEEN = -1
SOURCE = -2


def bfs_parents(indptr: np.ndarray, targets: np.ndarray, sources: np.ndarray, n: int,
                blocked: np.ndarray | None = None, native: bool = True) -> np.ndarray:
    """Parent of each node on one shortest path from ``sources`` (SOURCE for sources, UNSEEN if
    unreached). ``targets[indptr[u]:indptr[u+1]]`` are u's neighbours; negative targets are
    ignored; nodes in ``blocked`` are never expanded (but can be reached)."""
    if native and _cgraph is not None and n < 2**31:
        parent = np.empty(n, np.int64)
        src = np.ascontiguousarray(np.asarray(sources, np.int64))
        tgt = np.ascontiguousarray(targets, np.int32)
        blk = None if blocked is None else np.ascontiguousarray(blocked, bool).view(np.uint8)
        _cgraph.bfs(np.ascontiguousarray(indptr, np.int64), tgt, src, blk, parent, n, len(tgt),
                    len(src))
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


def path_to_source(parent: np.ndarray, node: int, limit: int = 1_000_000) -> list[int]:
    """Nodes from ``node`` following parents up to a source (inclusive of both ends)."""
    path = [node]
    while parent[path[-1]] >= 0 and len(path) < limit:
        path.append(int(parent[path[-1]]))
    return path
