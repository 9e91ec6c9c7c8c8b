"""Target ``arrays``: hostile index arrays through the index-level native functions.

The index that heapspurs builds is consistent, but it is read back from the cache folder and
handed around as plain arrays: every native function that takes one must check what it
indexes with. The first byte picks the function (_cscan: resolve, reverse (whole, or in
windows of targets), gather, phantoms, listing, rank_by_page; _cgraph: bfs, walk_levels with
find_in_levels and level_path, dominators, labels, with their working arrays allocated or the
caller's); the rest becomes its arrays: ids slightly out
of range, negative and huge values, edge lists out of order or past the end, unsorted
addresses, sizes that wrap, now and then a length that does not match the count given.
ValueError (the function refused the arrays) is the expected answer to nonsense.
"""

from __future__ import annotations

import numpy as np

_cscan = _cgraph = None
_FDP = None


def setup(modules: dict) -> None:
    global _cscan, _cgraph, _FDP
    import atheris

    _cscan, _cgraph = modules["_cscan"], modules["_cgraph"]
    _FDP = atheris.FuzzedDataProvider


class Gen:
    """Arrays from the fuzzer's bytes: mostly plausible values, some hostile."""

    def __init__(self, fdp):
        self.f = fdp

    def count(self, hi: int) -> int:
        return self.f.ConsumeIntInRange(0, hi)

    def ids(self, k: int, n: int, dtype) -> np.ndarray:
        """k ids, mostly in [0, n), some -1/-2, n, n+1 or extreme."""
        raw = self.f.ConsumeIntListInRange(k, -3, n + 2) if k else []
        a = np.array(raw, np.int64)
        if k and self.f.ConsumeBool():
            info = np.iinfo(dtype)
            a[self.f.ConsumeIntInRange(0, k - 1)] = self.f.PickValueInList(
                [info.min, info.max, info.max - 1, -(2**31), 2**31 - 1])
        return a.astype(dtype)

    def starts(self, n: int, m: int) -> np.ndarray:
        """A CSR start array of n+1 entries over m edges, sometimes broken."""
        cuts = sorted(self.f.ConsumeIntListInRange(max(n - 1, 0), 0, m)) if n else []
        a = np.array([0, *cuts, m][: n + 1] if n else [0], np.int64)
        if len(a) < n + 1:
            a = np.resize(a, n + 1)
        if self.f.ConsumeBool() and len(a):
            a[self.f.ConsumeIntInRange(0, len(a) - 1)] = self.f.PickValueInList(
                [-1, m + 1, 2**62, -(2**62), 2**63 - 1, -(2**63), 0])
        return a

    def u64(self, k: int, lo: int = 0, hi: int = 2**16) -> np.ndarray:
        a = np.array(self.f.ConsumeIntListInRange(k, lo, hi) if k else [], np.uint64)
        if k and self.f.ConsumeBool():
            a[self.f.ConsumeIntInRange(0, k - 1)] = self.f.PickValueInList(
                [2**64 - 1, 2**63, 2**63 - 1, 2**32, 0])
        return a

    def flags(self, k: int) -> np.ndarray:
        return np.array(self.f.ConsumeIntListInRange(k, 0, 1) if k else [], np.uint8)

    def maybe_short(self, a: np.ndarray) -> np.ndarray:
        """Now and then one element too few or too many (the functions must notice)."""
        if self.f.ConsumeIntInRange(0, 15) == 0:
            return a[:-1] if len(a) else np.resize(a, 1)
        return a


def _resolve(g: Gen) -> None:
    n, m = g.count(64), g.count(5000)
    base = g.f.PickValueInList([0, 0xC000000000, 2**63, 2**64 - 2**20])
    addr = np.sort(g.u64(n, 0, 1 << 16)) + np.uint64(base) if g.f.ConsumeBool() else \
        g.u64(n, 0, 1 << 20)
    size = g.u64(n, 0, 4096)
    vals = g.u64(m, 0, 1 << 17) + np.uint64(base)
    out = np.empty(m, np.int32)
    _cscan.resolve(g.maybe_short(addr), size, vals, out, n, m, g.count(3))


def _reverse(g: Gen) -> None:
    n, m = g.count(40), g.count(200)
    pstart, pdst, skip = g.starts(n, m), g.ids(m, n, np.int32), g.flags(n)
    rstart = np.zeros(n + 1, np.int64)
    bytes_ = g.f.PickValueInList([4, 8])
    total = _cscan.reverse(pstart, g.maybe_short(pdst), skip, rstart, None, None, n, m, 8, 1)
    if g.f.ConsumeBool():
        rstart = g.starts(n, total)
    extra = g.count(3) - 1
    rsrc = np.empty(max(total + extra, 0), np.int32)
    rptr = np.empty(max(total + extra, 0), np.int32 if bytes_ == 4 else np.int64)
    if g.f.ConsumeBool():
        _cscan.reverse(pstart, pdst, skip, rstart, rsrc, rptr, n, m, bytes_, g.count(3))
        return
    # In windows of targets [lo, hi), in order, now and then a bad one.
    cuts = sorted(g.f.ConsumeIntListInRange(g.count(3), -1, n + 1))
    bounds = [0, *cuts, n]
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        _cscan.reverse(pstart, pdst, skip, rstart, rsrc, rptr, n, m, bytes_, g.count(3), lo, hi)


def _gather(g: Gen) -> None:
    n, m = g.count(40), g.count(200)
    order = g.ids(n, n, np.int64)
    if g.f.ConsumeBool():
        order = np.argsort(order, kind="stable").astype(np.int64)
    old, new = g.starts(n, m), g.starts(n, m)
    off_bytes = g.f.PickValueInList([4, 8])
    dt = np.uint32 if off_bytes == 4 else np.uint64
    soff, sval = np.zeros(m, dt), g.u64(m)
    doff, dval = np.zeros(m, dt), np.zeros(m, np.uint64)
    _cscan.gather(order, old, new, soff, sval, doff, g.maybe_short(dval), n, m, off_bytes)


def _bfs(g: Gen) -> None:
    n, m, ns = g.count(40), g.count(200), g.count(8)
    indptr, tgt, src = g.starts(n, m), g.ids(m, n, np.int32), g.ids(ns, n, np.int64)
    blk = g.flags(n) if g.f.ConsumeBool() else None
    parent = np.empty(n, np.int64)
    if g.f.ConsumeBool():
        _cgraph.bfs(indptr, tgt, src, blk, g.maybe_short(parent), n, m, ns)
    else:
        queue = g.maybe_short(np.empty(n, np.int32))
        _cgraph.bfs(indptr, tgt, src, blk, parent, n, m, ns, queue)


def _walk_levels(g: Gen) -> None:
    n, m, ns = g.count(40), g.count(200), g.count(8)
    indptr, tgt, src = g.starts(n, m), g.ids(m, n, np.int32), g.ids(ns, n, np.int32)
    blk = [g.maybe_short(g.flags(n)) if g.f.ConsumeBool() else None for _ in range(2)]
    words = (n + 63) // 64
    seen = g.maybe_short(g.u64(words, 0, 2**64 - 1) if g.f.ConsumeBool() else
                         np.zeros(words, np.uint64))
    fresh = g.maybe_short(np.zeros(words, np.uint64))
    queue = g.maybe_short(np.zeros(n, np.int32))
    queue[: min(ns, len(queue))] = src[: len(queue)]
    ends = np.zeros(g.count(6) or 1, np.int64)
    state = np.array([g.count(4), min(ns, n), g.count(ns), 0, g.count(n + 2) - 1,
                      g.count(n + 2) - 1], np.int64)
    for _ in range(8):
        if _cgraph.walk_levels(indptr, tgt, blk[0], blk[1], seen, fresh, queue, ends, state,
                               n, m, g.count(64)):
            break
        state[3] = 0
    count = int(state[1])
    nodes = np.unique(g.ids(g.count(8), n, np.int64))
    if g.f.ConsumeBool():
        nodes = nodes[::-1].copy()
    _cgraph.find_in_levels(queue, count, nodes, np.empty(len(nodes), np.int64),
                           np.zeros(words, np.uint64) if g.f.ConsumeBool() else fresh, n,
                           len(nodes))
    bounds = np.sort(g.ids(g.count(6) + 1, count + 2, np.int64))
    mr = g.count(200)
    rstart, rsrc = g.starts(n, mr), g.ids(mr, n, np.int32)
    _cgraph.level_path(indptr, tgt, rstart, rsrc, blk[0], blk[1], queue, bounds,
                       g.count(n + 1) - 1, g.count(len(bounds)), n, m, mr, len(bounds))


def _rank_by_page(g: Gen) -> None:
    n = g.count(64)
    base = g.f.PickValueInList([0, 0xC000000000, 2**63, 2**64 - 2**20])
    addr = g.u64(n, 0, 1 << 18) + np.uint64(base)
    if g.f.ConsumeBool():
        addr = np.sort(addr)
    count = g.u64(n, 0, 8).astype(np.uint32)
    lo = (int(addr.min()) >> 13) if n and g.f.ConsumeBool() else g.count(1 << 20)
    npages = g.f.PickValueInList([0, 1, 8, 40, 2**31, g.count(64)])
    rank, pstart = np.empty(n, np.int64), np.empty(n + 1, np.int64)
    _cscan.rank_by_page(g.maybe_short(addr), count, rank, pstart, n, lo, npages)


def _phantoms(g: Gen) -> None:
    n = g.count(64)
    addr = g.u64(n, 0, 1 << 18)
    if g.f.ConsumeBool():
        addr = np.sort(addr)
    pstart = g.starts(n, g.count(100))
    size = g.u64(n, 0, 1024)
    npages = g.count(64)
    _cscan.phantoms(addr, pstart, size, np.zeros(n, np.uint8), n, npages,
                    g.f.PickValueInList([0, 16, 32, 2**31 - 1]), g.f.PickValueInList([0, 128]))


def _names(g: Gen, rows: int) -> tuple:
    starts = np.sort(g.u64(rows, 0, 1 << 12))
    ends = starts + g.u64(rows, 0, 64)
    blob = g.f.ConsumeBytes(g.count(40))
    offs = g.ids(rows, len(blob) + 1, np.int64)
    return starts, ends, offs, blob


def _listing(g: Gen) -> None:
    n, m = g.count(24), g.count(80)
    addr = np.sort(g.u64(n, 0, 1 << 12))
    poff_dt = g.f.PickValueInList([np.uint32, np.uint64])
    index = (addr, g.u64(n, 0, 256), g.starts(n, m), g.u64(m, 0, 256).astype(poff_dt),
             g.u64(m, 0, 1 << 12), g.ids(m, n, np.int32), g.flags(n), g.flags(n))
    blob = g.f.ConsumeBytes(g.count(60))
    nl = g.count(6)
    column = (g.ids(n, nl, np.int32) if g.f.ConsumeBool() else None,
              g.ids(nl, len(blob) + 1, np.int64), blob)
    cols = tuple(column if g.f.ConsumeBool() else None for _ in range(3))
    tables = tuple(_names(g, g.count(8)) for _ in range(g.count(2)))
    objs = g.ids(g.count(30), n, np.int64)
    if g.f.ConsumeBool():
        index = tuple(g.maybe_short(a) for a in index)
    _cscan.listing(g.count(2), objs, index, cols, tables, g.f.ConsumeBool(), -1,
                   g.f.PickValueInList([1, 64, 1 << 16]))


def _dominators(g: Gen) -> None:
    n, m = g.count(40), g.count(200)
    indptr, tgt = g.starts(n, m), g.ids(m, n, np.int32)
    if g.f.ConsumeBool():  # the reverse edges of the same graph, as the index has them
        rstart = np.zeros(n + 1, np.int64)
        src = np.repeat(np.arange(n, dtype=np.int32), np.diff(np.clip(indptr, 0, m)).clip(0)) \
            if np.all(np.diff(indptr) >= 0) and indptr[-1] == m and indptr[0] == 0 else None
        if src is not None and len(src) == m:
            ok = (tgt >= 0) & (tgt < n)
            order = np.argsort(tgt[ok], kind="stable")
            rsrc = np.ascontiguousarray(src[ok][order], np.int32)
            np.cumsum(np.bincount(tgt[ok], minlength=n)[:n], out=rstart[1:])
        else:
            rsrc = g.ids(m, n, np.int32)
            rstart = g.starts(n, len(rsrc))
    else:
        mr = g.count(200)
        rstart, rsrc = g.starts(n, mr), g.ids(mr, n, np.int32)
    rooted = g.ids(g.count(8), n, np.int32)
    blocked = g.flags(n) if g.f.ConsumeBool() else None
    sizes = g.u64(n, 0, 2**20)
    idom, retained = np.empty(n, np.int32), np.empty(n, np.uint64)
    work = g.maybe_short(np.empty(53 * (n + 1), np.uint8)) if g.f.ConsumeBool() else None
    _cgraph.dominators(indptr, tgt, rstart, rsrc, rooted, blocked, g.maybe_short(sizes), idom,
                       retained, n, m, len(rsrc), len(rooted), work)


def _labels(g: Gen) -> None:
    n, m, k = g.count(40), g.count(200), g.count(8)
    indptr, tgt = g.starts(n, m), g.ids(m, n, np.int32)
    blocked = g.flags(n) if g.f.ConsumeBool() else None
    seeds, groups = g.ids(k, n, np.int64), g.ids(k, 4, np.int32)
    queue = g.maybe_short(np.empty(2 * n + 1, np.int32)) if g.f.ConsumeBool() else None
    _cgraph.labels(indptr, tgt, blocked, seeds, groups, g.maybe_short(np.empty(n, np.int32)),
                   n, m, k, queue)


FUNCTIONS = (_resolve, _reverse, _gather, _bfs, _phantoms, _listing, _dominators, _labels,
             _walk_levels, _rank_by_page)


def test_one_input(data: bytes) -> None:
    g = Gen(_FDP(data))
    fn = FUNCTIONS[g.count(len(FUNCTIONS) - 1)]
    try:
        fn(g)
    except (ValueError, TypeError):  # refused: what nonsense must get
        pass
