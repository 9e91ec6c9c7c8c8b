"""The dominator tree of the heap and retained sizes.

The graph: every object, plus a virtual super-root whose successors are the objects the dump's
roots point at. Object x dominates y when every path from the super-root to y passes through x;
y's retained size is the sum of the sizes of the objects it dominates, itself included (what the
GC would free if y went away). Unreachable objects and phantoms are in no tree and retain
nothing. Native Lengauer-Tarjan (``_cgraph``); a Python version where the extension is missing.
Both arrays are kept beside the cached index.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from heapspurs.index import cache
from heapspurs.index.heap_index import HeapIndex
from heapspurs.index.workspace import scratch_for

try:
    from heapspurs.analysis import _cgraph
except ImportError:  # pragma: no cover - exercised only where the extension was not built
    _cgraph = None

UNREACHED = -1
SUPER_ROOT = -2
WORK_PER_NODE = 53  # bytes of the native code's working arrays per node (see _cgraph.c)


@dataclass
class DominatorTree:
    idom: np.ndarray  # int32 per object: immediate dominator, SUPER_ROOT or UNREACHED
    retained: np.ndarray  # uint64 per object (0 when unreached)

    @property
    def reachable(self) -> np.ndarray:
        return self.idom != UNREACHED

    @property
    def reachable_bytes(self) -> int:
        return int(self.retained[self.idom == SUPER_ROOT].sum())

    def children(self, obj: int) -> np.ndarray:
        """The objects ``obj`` immediately dominates (unordered)."""
        return np.nonzero(self.idom == obj)[0]


def graph_inputs(ix: HeapIndex) -> tuple[np.ndarray, np.ndarray]:
    """(rooted objects, blocked flags): the super-root's successors, nodes never expanded."""
    rooted = np.unique(ix.roots.obj).astype(np.int32)
    return rooted, np.ascontiguousarray(ix.phantom, bool)


def _compute(ix: HeapIndex, native: bool = True) -> tuple[np.ndarray, np.ndarray]:
    rooted, blocked = graph_inputs(ix)
    n = ix.count
    sizes = np.ascontiguousarray(ix.size, np.uint64)
    if native and _cgraph is not None:
        # The native code's working arrays (53 bytes a node) and the results (12): in scratch
        # files kept within the memory budget when they do not fit in half of it.
        ws = scratch_for(ix, WORK_PER_NODE * (n + 1) + 12 * n)
        work = ws.empty("dom_work", WORK_PER_NODE * (n + 1), np.uint8)
        idom = ws.empty("dom_idom", n, np.int32)
        retained = ws.empty("dom_retained", n, np.uint64)
        _cgraph.dominators(np.ascontiguousarray(ix.pstart, np.int64),
                           np.ascontiguousarray(ix.pdst, np.int32),
                           np.ascontiguousarray(ix.rstart, np.int64),
                           np.ascontiguousarray(ix.rsrc, np.int32), rooted,
                           blocked.view(np.uint8), sizes, idom, retained, n, len(ix.pdst),
                           len(ix.rsrc), len(rooted), work)
        del work
        ws.forget("dom_work")
        return idom, retained
    if n > 200_000:
        print("heapspurs: native graph code not built; computing dominators in Python (slow)",
              file=sys.stderr)
    return dominators_python(ix.pstart, ix.pdst, rooted, blocked, sizes)


def dominator_tree(ix: HeapIndex) -> DominatorTree:
    """The dominator tree of ``ix`` (computed once, then kept beside the cached index)."""
    return ix.memo.get("dominator_tree", lambda: _tree(ix))


def _tree(ix: HeapIndex) -> DominatorTree:
    computed: dict[str, np.ndarray] = {}

    def part(name: str) -> np.ndarray:
        if not computed:
            computed["idom"], computed["retained"] = _compute(ix)
        return computed[name]

    return DominatorTree(cache.derived(ix, "dom_idom", lambda: part("idom")),
                         cache.derived(ix, "dom_retained", lambda: part("retained")))


def dominators_python(indptr: np.ndarray, targets: np.ndarray, rooted: np.ndarray,
                      blocked: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same as the native code, by Cooper, Harvey and Kennedy's iterative algorithm
    (reverse postorder, intersect by postorder numbers). The specification for small graphs
    and the fallback."""
    n = len(indptr) - 1
    root = n
    succ_start = indptr.tolist()
    tgt = targets.tolist()
    blk = blocked.tolist()

    def successors(u: int) -> list[int]:
        if u == root:
            return [int(r) for r in rooted.tolist()]
        if blk[u]:
            return []
        return [t for t in tgt[succ_start[u] : succ_start[u + 1]] if t >= 0]

    # Iterative DFS postorder from the super-root.
    post = [-1] * (n + 1)
    order: list[int] = []
    seen = [False] * (n + 1)
    seen[root] = True
    stack = [(root, iter(successors(root)))]
    while stack:
        u, it = stack[-1]
        for t in it:
            if not seen[t]:
                seen[t] = True
                stack.append((t, iter(successors(t))))
                break
        else:
            stack.pop()
            post[u] = len(order)
            order.append(u)
    preds: list[list[int]] = [[] for _ in range(n + 1)]
    for u in order:
        for t in successors(u):
            preds[t].append(u)
    idom = [-1] * (n + 1)
    idom[root] = root
    rpo = list(reversed(order))
    changed = True
    while changed:
        changed = False
        for b in rpo[1:]:
            new = -1
            for p in preds[b]:
                if idom[p] == -1:
                    continue
                if new == -1:
                    new = p
                    continue
                x, y = p, new
                while x != y:
                    while post[x] < post[y]:
                        x = idom[x]
                    while post[y] < post[x]:
                        y = idom[y]
                new = x
            if idom[b] != new:
                idom[b] = new
                changed = True
    out = np.full(n, UNREACHED, np.int32)
    retained = np.zeros(n, np.uint64)
    size = sizes.tolist()
    ret = [0] * (n + 1)
    for u in order:  # postorder: children before their dominators
        if u == root:
            continue
        ret[u] += size[u]
        d = idom[u]
        out[u] = SUPER_ROOT if d == root else d
        if d != root:
            ret[d] += ret[u]
    retained[:] = ret[:n]
    return out, retained
