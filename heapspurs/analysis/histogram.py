"""``--histogram`` and ``--unreachable``: objects counted by kind (their name when one is known,
else their size class), largest total first. Phantoms are never counted."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heapspurs.analysis.dominators import UNREACHED, dominator_tree
from heapspurs.analysis.kinds import kind_ids
from heapspurs.analysis.reach import reachable_mask
from heapspurs.index.heap_index import HeapIndex
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


def count_by_kind(ix: HeapIndex, objs: np.ndarray) -> list[HistogramRow]:
    ids, labels = kind_ids(ix, objs)
    count = np.bincount(ids, minlength=len(labels))
    nbytes = np.bincount(ids, weights=ix.size[objs].astype(np.float64), minlength=len(labels))
    # Several ids may share a label (two OIDs with one name): merge by label.
    merged: dict[str, list[int]] = {}
    for i in np.nonzero(count)[0].tolist():
        row = merged.setdefault(labels[i], [0, 0])
        row[0] += int(count[i])
        row[1] += int(nbytes[i])
    reasons = _reasons(ix, objs, ids, labels)
    rows = [HistogramRow(name, c, b, reasons.get(name)) for name, (c, b) in merged.items()]
    rows.sort(key=lambda r: (-r.bytes, -r.count, r.name))
    return rows


def _reasons(ix: HeapIndex, objs: np.ndarray, ids: np.ndarray,
             labels: list[str]) -> dict[str, str]:
    """With --program: the label of each row of untyped objects -> why most of its bytes are
    untyped (worked out for the untyped objects only: usually a few percent of the heap)."""
    typing = names_of(ix).typing
    if typing is None or not len(objs):
        return {}
    typed = typing.object_type[objs] >= 0
    has_typed = np.zeros(len(labels), bool)
    has_typed[ids[typed]] = True
    untyped = objs[~typed]
    rows = ids[~typed].astype(np.int64)
    code = typing.untyped_reasons(ix, untyped, reachable_mask(ix)).astype(np.int64)
    n = len(UNTYPED_REASONS)
    weight = np.bincount(rows * n + code, weights=ix.size[untyped].astype(np.float64),
                         minlength=len(labels) * n).reshape(len(labels), n)
    out: dict[str, str] = {}
    for i in np.nonzero((weight[:, 1:].sum(axis=1) > 0) & ~has_typed)[0].tolist():
        out.setdefault(labels[i], UNTYPED_REASONS[int(np.argmax(weight[i, 1:])) + 1])
    return out


def histogram(ix: HeapIndex) -> Histogram:
    """Every real object counted by kind (kept for the index: the explorer asks again)."""
    by_stack = allocation_sites(ix).by_stack
    return ix.memo.get(f"histogram{int(by_stack)}", lambda: _histogram(ix))


def _histogram(ix: HeapIndex) -> Histogram:
    real = np.nonzero(~ix.phantom)[0]
    tree = dominator_tree(ix)
    reach = tree.idom[real] != UNREACHED
    size = ix.size[real].astype(np.int64)
    names = names_of(ix)
    named = (names.object_ids[real] >= 0) if names.object_ids is not None else np.zeros(
        len(real), bool)
    typed = (names.typing.object_type[real] >= 0) if names.typing is not None else np.zeros(
        len(real), bool)
    totals = {"objects": len(real), "bytes": int(size.sum()),
              "reachable_objects": int(reach.sum()), "reachable_bytes": int(size[reach].sum()),
              "named_objects": int(named.sum()), "named_bytes": int(size[named].sum()),
              "typed_objects": int(typed.sum()), "typed_bytes": int(size[typed].sum()),
              "reachable_typed_objects": int((typed & reach).sum()),
              "reachable_typed_bytes": int(size[typed & reach].sum())}
    return Histogram(count_by_kind(ix, real), totals)
