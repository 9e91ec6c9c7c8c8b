"""``--histogram``, ``--unreachable`` and ``--goroutines`` in text and JSON."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from heapspurs.analysis.goroutine_groups import GoroutineGroup
from heapspurs.analysis.histogram import Histogram, HistogramRow
from heapspurs.index.heap_index import HeapIndex
from heapspurs.render.objects_view import size_text


def rows_text(rows: list[HistogramRow]) -> Iterator[str]:
    yield f"{'count':>9} {'bytes':>10}  name"
    for r in rows:
        yield f"{r.count:>9} {size_text(r.bytes):>10}  {r.name}"


def rows_json(rows: list[HistogramRow]) -> list[dict[str, Any]]:
    return [{"name": r.name, "count": r.count, "bytes": r.bytes}
            | ({"untyped_reason": r.untyped_reason} if r.untyped_reason else {}) for r in rows]


def histogram_text(h: Histogram) -> Iterator[str]:
    t = h.totals
    yield (f"{t['objects']} objects ({size_text(t['bytes'])}), {t['reachable_objects']} "
           f"reachable ({size_text(t['reachable_bytes'])}); by name, type or allocation site, "
           "else size class:")
    yield from rows_text(h.rows)


def histogram_json(h: Histogram) -> dict[str, Any]:
    return {"rows": rows_json(h.rows), "totals": h.totals}


def unreachable_text(ix: HeapIndex, objs: np.ndarray, rows: list[HistogramRow]) -> Iterator[str]:
    total = int(ix.size[objs].astype(np.int64).sum())
    yield (f"{len(objs)} objects ({size_text(total)}) that no root in the dump reaches "
           "(garbage not yet collected, or held only by memory the dump does not show):")
    if len(objs):
        yield from rows_text(rows)


def unreachable_json_head(ix: HeapIndex, objs: np.ndarray,
                          rows: list[HistogramRow]) -> dict[str, Any]:
    """``--unreachable --json`` before its list of addresses (written as it goes, all of
    them: ``"truncated"`` after it is false since the list no longer stops at 10,000)."""
    return {"totals": {"objects": len(objs), "bytes": int(ix.size[objs].astype(np.int64).sum())},
            "rows": rows_json(rows)}


def goroutines_text(ix: HeapIndex, groups: list[GoroutineGroup]) -> Iterator[str]:
    total = sum(len(g.goroutines) for g in groups)
    yield (f"{total} goroutines in {len(groups)} groups of identical stacks, largest "
           "retainers first:")
    for g in groups:
        state = g.status + (f" ({g.wait_reason})" if g.wait_reason else "")
        yield ""
        waited = (f", waiting for at least {g.longest_wait_ns / 1e9:.1f} s"
                  if g.longest_wait_ns >= 1e8 else "")
        yield (f"{len(g.goroutines)} goroutine(s), {state}{waited}, retain "
               f"{size_text(g.retained)} in {g.objects} objects")
        for fn in g.functions:
            yield f"    {fn}"
        ids = [ix.raw.goroutines[i].goid for i in g.goroutines]
        shown = " ".join(str(i) for i in ids[:20]) + (" ..." if len(ids) > 20 else "")
        yield f"  goroutines: {shown}"


def goroutines_json(ix: HeapIndex, groups: list[GoroutineGroup]) -> dict[str, Any]:
    return {"groups": [{"functions": g.functions, "count": len(g.goroutines),
                        "status": g.status, "wait_reason": g.wait_reason or None,
                        "wait_since": g.wait_since or None,
                        "longest_wait_ns": g.longest_wait_ns, "retained": g.retained,
                        "objects": g.objects,
                        "goroutines": [ix.raw.goroutines[i].goid for i in g.goroutines]}
                       for g in groups]}
