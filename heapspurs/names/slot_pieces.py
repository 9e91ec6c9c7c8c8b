"""Walk the pointer slots of many objects in bounded memory: the objects of one typing step, in
order, cut into pieces of about ``budget`` slots (an object with more slots than that is split
over several pieces), so that no per-slot temporary is ever larger than a piece. Walking the
pieces in order visits every slot once, in slot order (object by object, then by offset)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from heapspurs.scan.address_order import gather_ranges

BUDGET = 1 << 16  # slots (and objects) per piece


@dataclass
class Piece:
    objs: np.ndarray  # int64 object ids, in order (an object split over pieces is in each)
    start: np.ndarray  # int64 each object's first slot (an index into the slot arrays)
    lo: np.ndarray  # int64 the first of the object's slots in this piece, from its start
    hi: np.ndarray  # int64 the end of them (exclusive), from its start
    keep: bool = False  # keep what slots() gives (for a piece walked several times)
    kept: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def slots(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(slot, owner: the slot's object as a position in ``objs``, j: the slot's index
        within its object), in slot order; kept when the piece is kept (see keep)."""
        if self.kept is not None:
            return self.kept
        n = self.hi - self.lo
        slots = gather_ranges(self.start + self.lo, n)
        owner = np.repeat(np.arange(len(self.objs)), n)
        out = slots, owner, slots - self.start[owner]
        if self.keep:
            self.kept = out
        return out

    def field_slots(self, field: int, npw: int) -> np.ndarray:
        """The slots whose index j within their object is ``field`` modulo ``npw``, in slot
        order."""
        if self.kept is not None:
            slots, _, j = self.kept
            return slots[j % npw == field]
        first = self.lo + (field - self.lo) % npw
        n = np.maximum((self.hi - first + npw - 1) // npw, 0)
        return np.repeat(self.start + first, n) + npw * gather_ranges(np.zeros(len(n), np.int64), n)


def chunks(objs: np.ndarray, budget: int = BUDGET) -> Iterator[np.ndarray]:
    """``objs`` in consecutive parts of at most ``budget``, as int64."""
    for a in range(0, len(objs), budget):
        yield np.asarray(objs[a : a + budget], np.int64)


def pieces(objs: np.ndarray, pstart: np.ndarray, budget: int = BUDGET) -> Iterator[Piece]:
    """The slots of ``objs`` (in order; ``pstart`` is the index's CSR start of each object's
    slots) in pieces of at most ``2 * budget`` slots and ``budget`` objects."""
    for sub in chunks(objs, budget):
        start = pstart[sub].astype(np.int64)
        count = pstart[sub + 1].astype(np.int64) - start
        if count.sum() <= budget:
            yield Piece(sub, start, np.zeros(len(sub), np.int64), count)
            continue
        prev = 0
        for b in [*np.nonzero(count > budget)[0].tolist(), len(sub)]:
            if b > prev:
                yield from _windows(sub[prev:b], start[prev:b], count[prev:b], budget)
            if b < len(sub):  # one object with more than budget slots: split it
                for lo in range(0, int(count[b]), budget):
                    hi = min(lo + budget, int(count[b]))
                    yield Piece(sub[b : b + 1], start[b : b + 1], np.array([lo]),
                                np.array([hi]))
            prev = b + 1


def _windows(objs: np.ndarray, start: np.ndarray, count: np.ndarray,
             budget: int) -> Iterator[Piece]:
    """Objects of at most ``budget`` slots each, grouped by the window of ``budget`` slots
    their first slot falls in."""
    window = (np.cumsum(count) - count) // budget
    cuts = (np.nonzero(np.diff(window))[0] + 1).tolist()
    for a, b in zip([0, *cuts], [*cuts, len(objs)], strict=True):
        yield Piece(objs[a:b], start[a:b], np.zeros(b - a, np.int64), count[a:b])
