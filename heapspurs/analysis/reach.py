"""Which objects the dump's roots reach, and the summary counts: reachable, phantom, unreachable."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heapspurs.analysis.traverse import UNSEEN, bfs_parents
from heapspurs.index.heap_index import CHUNK, HeapIndex
from heapspurs.index.workspace import scratch_for


def reachable_mask(ix: HeapIndex) -> np.ndarray:
    """True for every object some root reaches (phantoms are never expanded)."""
    return ix.memo.get("reachable", lambda: _reachable(ix))


def _reachable(ix: HeapIndex) -> np.ndarray:
    parent = bfs_parents(ix.pstart, ix.pdst, ix.roots.obj, ix.count, blocked=ix.phantom,
                         ws=scratch_for(ix, 12 * ix.count))
    reach = np.empty(ix.count, bool)
    for lo in range(0, ix.count, CHUNK):
        reach[lo : lo + CHUNK] = parent[lo : lo + CHUNK] != UNSEEN
    return reach


@dataclass
class HeapSummary:
    objects: int
    bytes: int
    reachable_objects: int
    reachable_bytes: int
    phantom_objects: int
    phantom_bytes: int
    unreachable_objects: int
    unreachable_bytes: int
    root_edges: int

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def summarize(ix: HeapIndex) -> HeapSummary:
    reach_all = reachable_mask(ix)
    counts = np.zeros((4, 2), np.int64)  # (all, reachable, phantom, unreachable) x (n, bytes)
    for lo in range(0, ix.count, CHUNK):  # (in chunks: the temporaries are per object)
        reach = reach_all[lo : lo + CHUNK]
        phantom = ix.phantom[lo : lo + CHUNK] & ~reach
        unreach = ~reach & ~phantom
        size = ix.size[lo : lo + CHUNK].astype(np.int64)
        for row, mask in enumerate((None, reach, phantom, unreach)):
            part = size if mask is None else size[mask]
            counts[row] += (len(part), int(part.sum()))
    (n, nbytes), (rn, rb), (pn, pb), (un, ub) = counts.tolist()
    return HeapSummary(
        objects=n, bytes=nbytes, reachable_objects=rn, reachable_bytes=rb,
        phantom_objects=pn, phantom_bytes=pb, unreachable_objects=un, unreachable_bytes=ub,
        root_edges=len(ix.roots.obj),
    )
