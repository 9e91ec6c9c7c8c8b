"""Breadth-first search over CSR edge lists: a native queue BFS (``_cgraph.bfs``, beside the other
graph walks), or one whole frontier at a time in numpy where the extension is not built (no
per-node Python either way)."""

from __future__ import annotations

import numpy as np

from heapspurs.index.budget import resident_bytes
from heapspurs.index.pages import release_all
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


class DenseWalk:
    """The answer of :func:`bfs_parents` seen as a walk: which nodes it reached, and the path
    from one of them back to a source."""

    def __init__(self, parent: np.ndarray):
        self.parent = parent

    def reached(self, nodes: np.ndarray) -> np.ndarray:
        return self.parent[np.asarray(nodes, np.int64)] != UNSEEN

    def paths(self, nodes: np.ndarray) -> dict[int, list[int]]:
        return {int(v): path_to_source(self.parent, int(v)) for v in np.asarray(nodes).tolist()}


class LevelWalk:
    """A breadth-first walk for a question about one object, kept as levels: a bitmap of the
    reached nodes and one queue in which each level is sorted, 4 bytes per reached node (the
    parents of :func:`bfs_parents` take 12 per node of the heap). A node flagged in any of
    ``blocked`` is reached but not expanded. The index pages it reads are given back as it goes
    (they stay in the page cache), so that a walk over most of a heap bigger than memory holds
    its queue and bitmaps, not the index. Paths are rebuilt from the levels over the forward
    edges ``fstart``/``fdst`` (the same edges as ``indptr``/``targets``, reversed): from a node
    at level k, the lowest expanded node of level k-1 it has an edge to."""

    STEP_EDGES = 1 << 19  # edges walked between two looks at the resident set
    SLACK = 8 << 20  # index pages kept resident before they are given back

    def __init__(self, indptr: np.ndarray, targets: np.ndarray, fstart: np.ndarray,
                 fdst: np.ndarray, sources: np.ndarray, n: int,
                 blocked: tuple[np.ndarray, ...] = ()):
        self.n, self.fstart, self.fdst = n, fstart, fdst
        self.indptr, self.targets = indptr, targets
        self.blocked = [np.ascontiguousarray(b, bool).view(np.uint8) for b in blocked]
        self._blk = [*self.blocked, None, None][:2]  # (the native code's two flag arrays)
        self._mapped = (indptr, targets, *blocked)  # (as given: file mappings, given back)
        src = np.unique(np.asarray(sources, np.int64))
        src = src[(src >= 0) & (src < n)]
        self.seen = np.zeros((n + 63) // 64, np.uint64)
        self._fresh = np.zeros_like(self.seen)  # the level being found; clear between uses
        self.queue = np.empty(max(n, 1), np.int32)  # pages are touched as the queue grows
        self.queue[: len(src)] = src
        _set_bits(self.seen, src)
        if _cgraph is not None and len(self.blocked) <= 2 and n < 2**31 - 1:
            self.count, self.bounds = self._walk_native(indptr, targets, len(src))
        else:
            self.count, self.bounds = self._walk_numpy(indptr, targets, len(src))

    def _walk_native(self, indptr: np.ndarray, targets: np.ndarray, ns: int
                     ) -> tuple[int, np.ndarray]:
        fresh = self._fresh
        ends = np.empty(4096, np.int64)
        state = np.array([0, ns, ns, 0, 2**31, -1], np.int64)
        bounds = [np.array([0, ns], np.int64)]
        blk = self._blk
        ptr = np.ascontiguousarray(indptr, np.int64)
        tgt = np.ascontiguousarray(targets, np.int32)
        held = resident_bytes()
        while True:
            done = _cgraph.walk_levels(ptr, tgt, blk[0], blk[1], self.seen, fresh, self.queue,
                                       ends, state, self.n, len(tgt), self.STEP_EDGES)
            bounds.append(ends[: state[3]].copy())
            state[3] = 0
            own = held + 4 * int(state[1]) + 2 * self.seen.nbytes
            if done or resident_bytes() > own + self.SLACK:
                release_all(*self._mapped)
            if done:
                break
        bounds.append(state[1:2])  # (each level's end once; with no sources, one empty level)
        return int(state[1]), np.unique(np.concatenate(bounds))

    def _walk_numpy(self, indptr: np.ndarray, targets: np.ndarray, ns: int
                    ) -> tuple[int, np.ndarray]:
        seen = np.zeros(self.n, bool)
        frontier = self.queue[:ns].astype(np.int64)
        seen[frontier] = True
        bounds, tail = [0, ns], ns
        while len(frontier):
            for b in self.blocked:
                frontier = frontier[~b[frontier].astype(bool)]
            starts = indptr[frontier]
            idx = gather_ranges(starts, indptr[frontier + 1] - starts)
            nb = targets[idx].astype(np.int64)
            nb = np.unique(nb[nb >= 0])
            frontier = nb[~seen[nb]]
            seen[frontier] = True
            self.queue[tail: tail + len(frontier)] = frontier
            tail += len(frontier)
            if len(frontier):
                bounds.append(tail)
        _set_bits(self.seen, self.queue[:tail].astype(np.int64))
        return tail, np.array(bounds, np.int64)

    def __len__(self) -> int:
        return self.count

    def reached(self, nodes: np.ndarray) -> np.ndarray:
        v = np.asarray(nodes, np.int64)
        ok = (v >= 0) & (v < self.n)
        w = np.where(ok, v, 0)
        return ok & ((self.seen[w >> 6] >> (w & 63).astype(np.uint64)) & np.uint64(1) == 1)

    def paths(self, nodes: np.ndarray) -> dict[int, list[int]]:
        """For each reached node of ``nodes``: one shortest path from it to a source."""
        want = np.unique(np.asarray(nodes, np.int64))
        want = want[self.reached(want)]
        pos = self._positions(want)
        levels = np.searchsorted(self.bounds, pos, side="right") - 1
        return {int(v): self._path(int(v), int(k)) for v, k in zip(want, levels, strict=True)}

    def _positions(self, nodes: np.ndarray) -> np.ndarray:
        """Where each of ``nodes`` (sorted, reached) is in the queue: a search in each sorted
        level where the levels are few, else one pass over the queue."""
        levels = len(self.bounds) - 1
        if levels * len(nodes) <= self.count // 16:
            pos = np.full(len(nodes), -1, np.int64)
            keys = nodes.astype(self.queue.dtype)  # (of another dtype, numpy copies each level)
            for lo, hi in zip(self.bounds[:-1].tolist(), self.bounds[1:].tolist(), strict=True):
                seg = self.queue[lo:hi]
                i = np.minimum(np.searchsorted(seg, keys), max(len(seg) - 1, 0))
                hit = (seg[i] == keys) & (pos < 0) if len(seg) else np.zeros(len(keys), bool)
                pos[hit] = lo + i[hit]
            return pos
        if _cgraph is not None:
            pos = np.empty(len(nodes), np.int64)
            _cgraph.find_in_levels(self.queue, self.count, nodes, pos, self._fresh,
                                   len(self.queue), len(nodes))
            return pos
        order = np.argsort(self.queue[: self.count], kind="stable")
        i = np.searchsorted(self.queue[: self.count][order], nodes)
        return order[i]

    def _path(self, node: int, level: int) -> list[int]:
        """From ``node`` at ``level``: at each level below, the lowest node it has an edge to
        (that was expanded), down to a source."""
        if _cgraph is not None and len(self.blocked) <= 2:
            blk = self._blk
            raw = _cgraph.level_path(np.ascontiguousarray(self.fstart, np.int64),
                                     np.ascontiguousarray(self.fdst, np.int32),
                                     np.ascontiguousarray(self.indptr, np.int64),
                                     np.ascontiguousarray(self.targets, np.int32), blk[0], blk[1],
                                     self.queue, self.bounds, node, level, self.n,
                                     len(self.fdst), len(self.targets), len(self.bounds))
            return np.frombuffer(raw, np.int64).tolist()
        path = [node]
        for k in range(level, 0, -1):
            out = self.fdst[self.fstart[node]: self.fstart[node + 1]].astype(np.int64)
            out = out[out >= 0]
            for b in self.blocked:
                out = out[~b[out].astype(bool)]
            seg = self.queue[self.bounds[k - 1]: self.bounds[k]]
            i = np.minimum(np.searchsorted(seg, out), len(seg) - 1)
            node = int(out[seg[i] == out].min())
            path.append(node)
        return path


def _set_bits(bits: np.ndarray, nodes: np.ndarray) -> None:
    nodes = np.asarray(nodes, np.int64)
    np.bitwise_or.at(bits, nodes >> 6, np.left_shift(np.uint64(1), (nodes & 63).astype(np.uint64)))


def path_to_source(parent: np.ndarray, node: int, limit: int = 1_000_000) -> list[int]:
    """Nodes from ``node`` following parents up to a source (inclusive of both ends)."""
    path = [node]
    while parent[path[-1]] >= 0 and len(path) < limit:
        path.append(int(parent[path[-1]]))
    return path
