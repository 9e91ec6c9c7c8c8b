"""Reachability over a larger real heap: every object is reached, a phantom, or unreachable."""

from __future__ import annotations

import numpy as np
from clirun import run

from heapspurs.analysis.reach import reachable_mask, summarize
from heapspurs.index.geometry import PAGE
from heapspurs.index.load import load_index


def naive_reachable(ix) -> np.ndarray:
    """An independent, plain-Python reachability over raw pointer values (interior-aware)."""
    addrs = ix.addr.tolist()
    ends = (ix.addr + ix.size).tolist()
    import bisect

    def owner(v: int) -> int:
        i = bisect.bisect_right(addrs, v) - 1
        return i if i >= 0 and v < ends[i] else -1

    seen = np.zeros(ix.count, bool)
    stack = [owner(int(v)) for v in ix.roots.value.tolist()]
    while stack:
        o = stack.pop()
        if o < 0 or seen[o]:
            continue
        seen[o] = True
        if ix.phantom[o]:
            continue
        s, e = int(ix.pstart[o]), int(ix.pstart[o + 1])
        stack.extend(owner(int(v)) for v in ix.pval[s:e].tolist())
    return seen


def test_counts_add_up_and_match_a_naive_walk(big_run):
    ix = load_index(str(big_run.dump))
    s = summarize(ix)
    assert s.reachable_objects + s.phantom_objects + s.unreachable_objects == s.objects == ix.count
    assert s.objects > big_run.facts["n"]  # the program's N structs are all in the dump
    assert np.array_equal(reachable_mask(ix), naive_reachable(ix))
    # Right after runtime.GC(), with no finalizers or address-taken locals: a handful at most
    # (objects allocated between the GC and the dump, e.g. the dump file's own *os.File).
    assert s.unreachable_objects <= 10, s


def test_phantoms_sit_in_span_tails_and_nothing_points_at_them(big_run):
    ix = load_index(str(big_run.dump))
    ph = np.nonzero(ix.phantom)[0]
    if big_run.version.startswith("1.21"):
        assert len(ph) == 0
        return
    assert len(ph) > 0
    end_in_page = (ix.addr[ph] % PAGE) + ix.size[ph]
    assert np.all(end_in_page > PAGE - 256)
    assert np.all(ix.size[ph] <= 512)
    assert np.all(np.diff(ix.rstart)[ph] == 0)
    assert not np.isin(ph, ix.roots.obj).any()
    res = run(big_run.dump)
    assert f"phantoms (span tails, hidden): {len(ph)} objects" in res.out


def test_reachability_is_computed_once_per_index(big_run):
    ix = load_index(str(big_run.dump))
    assert "reachable" not in ix.memo
    first = reachable_mask(ix)
    assert "reachable" in ix.memo and reachable_mask(ix) is first
    assert "reachable" not in load_index(str(big_run.dump)).memo  # kept per index, not globally
