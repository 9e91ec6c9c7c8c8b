"""``--histogram`` and ``--unreachable``: objects counted by kind (their name when one is known,
else their size class), largest total first. Phantoms are never counted."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heapspurs.analysis.dominators import UNREACHED, dominator_tree
from heapspurs.analysis.kinds import kind_ids
from heapspurs.analysis.reach import reachable_mask
from heapspurs.index.heap_index import CHUNK, HeapIndex
from heapspurs.names.alloc_sites import allocation_sites
from heapspurs.names.naming import names_of
from heapspurs.names.typing import UNTYPED_REASONS


@dataclass
class HistogramRow:
    name: str
    count: int
    bytes: int
    untyped_reason: str | None = None  # with --program, for rows of untyped objects


@dataclass
class Histogram:
    rows: list[HistogramRow]
    totals: dict[str, int]


class KindCounts:
    """Objects counted by kind label, chunk by chunk (the labels of one chunk's kind ids merge
    by name into the whole count), with the untyped rows' reasons under --program."""

    def __init__(self, ix: HeapIndex):
        self.ix = ix
        self.rows: dict[str, list[int]] = {}  # label -> [count, bytes]
        self.has_typed: set[str] = set()
        self.reason_weight: dict[str, np.ndarray] = {}  # label -> bytes per untyped reason

    def add(self, objs: np.ndarray) -> None:
        ix = self.ix
        ids, labels = kind_ids(ix, objs)
        count = np.bincount(ids, minlength=len(labels))
        nbytes = np.bincount(ids, weights=ix.size[objs].astype(np.float64),
                             minlength=len(labels))
        # Several ids may share a label (two OIDs with one name): merge by label.
        for i in np.nonzero(count)[0].tolist():
            row = self.rows.setdefault(labels[i], [0, 0])
            row[0] += int(count[i])
            row[1] += int(nbytes[i])
        self._add_reasons(objs, ids, labels)

    def _add_reasons(self, objs: np.ndarray, ids: np.ndarray, labels: list[str]) -> None:
        """With --program: per label, the bytes of its untyped objects by why they are untyped
        (worked out for the untyped objects only: usually a few percent of the heap)."""
        typing = names_of(self.ix).typing
        if typing is None or not len(objs):
            return
        typed = typing.object_type[objs] >= 0
        self.has_typed.update(labels[i] for i in np.unique(ids[typed]).tolist())
        untyped = objs[~typed]
        rows = ids[~typed].astype(np.int64)
        code = typing.untyped_reasons(self.ix, untyped, reachable_mask(self.ix)).astype(np.int64)
        n = len(UNTYPED_REASONS)
        weight = np.bincount(rows * n + code, weights=self.ix.size[untyped].astype(np.float64),
                             minlength=len(labels) * n).reshape(len(labels), n)
        for i in np.nonzero(weight.sum(axis=1) > 0)[0].tolist():
            have = self.reason_weight.setdefault(labels[i], np.zeros(n))
            have += weight[i]

    def result(self) -> list[HistogramRow]:
        reasons: dict[str, str] = {}
        for label, weight in self.reason_weight.items():
            if label not in self.has_typed and weight[1:].sum() > 0:
                reasons[label] = UNTYPED_REASONS[int(np.argmax(weight[1:])) + 1]
        rows = [HistogramRow(name, c, b, reasons.get(name))
                for name, (c, b) in self.rows.items()]
        rows.sort(key=lambda r: (-r.bytes, -r.count, r.name))
        return rows


def count_by_kind(ix: HeapIndex, objs: np.ndarray) -> list[HistogramRow]:
    """The objects ``objs`` counted by kind, largest total first (in chunks)."""
    counts = KindCounts(ix)
    for lo in range(0, len(objs), CHUNK):
        counts.add(objs[lo : lo + CHUNK])
    return counts.result()


def histogram(ix: HeapIndex) -> Histogram:
    """Every real object counted by kind (kept for the index: the explorer asks again)."""
    by_stack = allocation_sites(ix).by_stack
    return ix.memo.get(f"histogram{int(by_stack)}", lambda: _histogram(ix))


def _histogram(ix: HeapIndex) -> Histogram:
    tree = dominator_tree(ix)
    names = names_of(ix)
    keys = ("objects", "bytes", "reachable_objects", "reachable_bytes", "named_objects",
            "named_bytes", "typed_objects", "typed_bytes", "reachable_typed_objects",
            "reachable_typed_bytes")
    totals = dict.fromkeys(keys, 0)
    counts = KindCounts(ix)
    for lo in range(0, ix.count, CHUNK):  # (in chunks: the temporaries are per object)
        real = lo + np.nonzero(~ix.phantom[lo : lo + CHUNK])[0]
        reach = tree.idom[real] != UNREACHED
        size = ix.size[real].astype(np.int64)
        named = (names.object_ids[real] >= 0) if names.object_ids is not None else np.zeros(
            len(real), bool)
        typed = (names.typing.object_type[real] >= 0) if names.typing is not None else \
            np.zeros(len(real), bool)
        for key, mask in (("", None), ("reachable_", reach), ("named_", named),
                          ("typed_", typed), ("reachable_typed_", typed & reach)):
            part = size if mask is None else size[mask]
            totals[f"{key}objects"] += len(part)
            totals[f"{key}bytes"] += int(part.sum())
        counts.add(real)
    return Histogram(counts.result(), totals)
