"""Names for global memory that no symbol covers: ``var events = NewBroker()`` may compile into an
unnamed static object (in .data or .bss) that only the named global ``main.events`` points to.
Such memory is named through the global that points at it: ``main.events → (static) +0x8``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from heapspurs.names.table import NameTable
from heapspurs.scan.raw import SegmentInfo

STATIC = "(static)"


def static_names(symbols: NameTable, segments: Sequence[SegmentInfo]) -> NameTable:
    """A range per unnamed static object that a named global points to: from the pointed-at
    address to the next symbol, the next such object or the end of its segment."""
    if not segments or not len(symbols):
        return NameTable.empty()
    holders = np.concatenate([np.uint64(s.address) + s.ptr_off.astype(np.uint64)
                              for s in segments])
    values = np.concatenate([s.ptr_val.astype(np.uint64) for s in segments])
    bounds = sorted((s.address, s.end) for s in segments)
    seg_start = np.array([b[0] for b in bounds], np.uint64)
    seg_end = np.array([b[1] for b in bounds], np.uint64)
    seg = np.searchsorted(seg_start, values, side="right").astype(np.int64) - 1
    in_seg = (seg >= 0) & (values < seg_end[np.maximum(seg, 0)])
    candidate = in_seg & (symbols.rows(values) < 0)
    if not candidate.any():
        return NameTable.empty()
    values, holders, seg = values[candidate], holders[candidate], seg[candidate]
    # One range per pointed-at address; its holder: the first holder with a symbol name.
    order = np.lexsort((holders, values))
    values, holders, seg = values[order], holders[order], seg[order]
    named_holder = symbols.rows(holders) >= 0
    starts: list[int] = []
    labels: list[str] = []
    seg_of: list[int] = []
    by_name: list[bool] = []
    for v, h, ok, s in zip(values.tolist(), holders.tolist(), named_holder.tolist(),
                           seg.tolist(), strict=True):
        label = f"{symbols.label(h) if ok else hex(h)} → {STATIC}"  # hex: fixed below
        if starts and starts[-1] == v:
            if ok and not by_name[-1]:
                labels[-1], by_name[-1] = label, True
            continue
        starts.append(v)
        labels.append(label)
        seg_of.append(s)
        by_name.append(ok)
    start_arr = np.array(starts, np.uint64)
    # Each range ends at the next symbol, the next pointed-at address or its segment's end.
    nxt_sym = np.searchsorted(symbols.starts, start_arr, side="right")
    sym_end = np.where(nxt_sym < len(symbols.starts),
                       symbols.starts[np.minimum(nxt_sym, len(symbols.starts) - 1)],
                       np.uint64(np.iinfo(np.uint64).max))
    next_start = np.append(start_arr[1:], np.uint64(np.iinfo(np.uint64).max))
    ends = np.minimum(np.minimum(sym_end, next_start), seg_end[np.array(seg_of, np.int64)])
    table = NameTable(start_arr, ends, labels)
    # A holder in unnamed memory itself (a static array of pointers to statics): name it
    # through the static that holds it, one level deep.
    unnamed = [i for i, ok in enumerate(by_name) if not ok]
    if unnamed:
        for i in unnamed:
            holder = int(labels[i].split(" ", 1)[0], 16)
            outer = table.label(holder)
            if outer is not None and not outer.startswith("0x"):
                labels[i] = f"{outer} → {STATIC}"
        table = NameTable(start_arr, ends, labels)
    return table
