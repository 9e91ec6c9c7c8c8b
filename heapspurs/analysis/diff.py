"""``--base OLD``: what grew between two dumps of the same program, by kind (name, allocation
site, else size class), like ``go tool pprof -base`` but over whole heaps. Objects cannot be
matched by address across processes, so growth is counted per kind. Only objects some root
reaches count (garbage awaiting collection would be noise)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heapspurs.analysis.histogram import count_by_kind
from heapspurs.analysis.reach import reachable_mask
from heapspurs.index.heap_index import HeapIndex


@dataclass
class DiffRow:
    name: str
    count: int
    bytes: int
    base_count: int
    base_bytes: int

    @property
    def delta_count(self) -> int:
        return self.count - self.base_count

    @property
    def delta_bytes(self) -> int:
        return self.bytes - self.base_bytes


def live_by_kind(ix: HeapIndex) -> dict[str, tuple[int, int]]:
    objs = np.nonzero(reachable_mask(ix) & ~ix.phantom)[0]
    return {r.name: (r.count, r.bytes) for r in count_by_kind(ix, objs)}


def diff(ix: HeapIndex, base: HeapIndex) -> list[DiffRow]:
    """Every kind in either dump, largest growth in bytes first."""
    now, then = live_by_kind(ix), live_by_kind(base)
    rows = [DiffRow(name, *now.get(name, (0, 0)), *then.get(name, (0, 0)))
            for name in set(now) | set(then)]
    rows.sort(key=lambda r: (-r.delta_bytes, -r.delta_count, r.name))
    return rows
