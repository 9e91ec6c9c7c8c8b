"""Which objects the dump's roots reach, and the summary counts: reachable, phantom, unreachable."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heapspurs.analysis.traverse import UNSEEN, bfs_parents
from heapspurs.index.heap_index import HeapIndex


def reachable_mask(ix: HeapIndex) -> np.ndarray:
    """True for every object some root reaches (phantoms are never expanded)."""
    return ix.memo.get("reachable", lambda: bfs_parents(
        ix.pstart, ix.pdst, ix.roots.obj, ix.count, blocked=ix.phantom) != UNSEEN)


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
    reach = reachable_mask(ix)
    phantom = ix.phantom & ~reach
    unreach = ~reach & ~phantom
    size = ix.size.astype(np.int64)
    return HeapSummary(
        objects=ix.count, bytes=int(size.sum()),
        reachable_objects=int(reach.sum()), reachable_bytes=int(size[reach].sum()),
        phantom_objects=int(phantom.sum()), phantom_bytes=int(size[phantom].sum()),
        unreachable_objects=int(unreach.sum()), unreachable_bytes=int(size[unreach].sum()),
        root_edges=len(ix.roots.obj),
    )
