"""The level walk that answers --anchors (a bitmap and one queue of sorted levels, its index
pages given back as it goes) against the dense breadth-first parents, on real dumps: the same
nodes reached, and each rebuilt path a real chain of edges as short as the BFS's."""

from __future__ import annotations

import numpy as np
import pytest

from heapspurs.analysis import traverse
from heapspurs.analysis.traverse import LevelWalk, bfs_parents, path_to_source
from heapspurs.index.load import load_index


def sample_objects(ix, k: int = 40) -> list[int]:
    """Objects many others reach (the first records, the most pointed-at) and a spread."""
    indeg = np.diff(ix.rstart)
    busiest = np.argsort(-indeg, kind="stable")[:k // 2]
    spread = np.linspace(0, ix.count - 1, k // 2).astype(np.int64)
    return sorted({int(o) for o in [*busiest, *spread]})


def check_walk(ix, obj: int, walk: LevelWalk) -> int:
    stop = ix.phantom | ix.is_goroutine
    parent = bfs_parents(ix.rstart, ix.rsrc, [obj], ix.count, blocked=stop)
    dense = np.nonzero(parent != traverse.UNSEEN)[0]
    assert len(walk) == len(dense)
    assert walk.reached(np.arange(ix.count)).sum() == len(dense)
    assert walk.reached(dense).all()
    some = dense[np.linspace(0, len(dense) - 1, min(len(dense), 200)).astype(np.int64)]
    paths = walk.paths(some)
    assert set(paths) == {int(v) for v in some}
    for v, path in paths.items():
        assert path[0] == v and path[-1] == obj
        assert len(path) == len(path_to_source(parent, v))  # as short as the BFS's
        for a, b in zip(path, path[1:], strict=False):  # each step an edge of a, expandable b
            out = ix.pdst[ix.pstart[a]:ix.pstart[a + 1]]
            assert b in out and not stop[b]
    return len(dense)


@pytest.mark.parametrize("native", [True, False])
def test_level_walk_equals_bfs(big_run, monkeypatch, native):
    ix = load_index(str(big_run.dump))
    if not native:
        monkeypatch.setattr(traverse, "_cgraph", None)
    largest = 0
    first = ix.find(int(big_run.facts["first_record"], 16))
    for obj in [first, *sample_objects(ix)]:
        walk = LevelWalk(ix.rstart, ix.rsrc, ix.pstart, ix.pdst, [obj], ix.count,
                         (ix.phantom, ix.is_goroutine))
        largest = max(largest, check_walk(ix, obj, walk))
    assert largest > ix.count // 4  # (the first record: every record reaches it)


def test_level_walk_in_small_steps_gives_its_pages_back(big_run, monkeypatch):
    """Many steps, the index pages given back between each: the same walk."""
    ix = load_index(str(big_run.dump))
    first = ix.find(int(big_run.facts["first_record"], 16))
    whole = LevelWalk(ix.rstart, ix.rsrc, ix.pstart, ix.pdst, [first], ix.count,
                      (ix.phantom, ix.is_goroutine))
    monkeypatch.setattr(LevelWalk, "STEP_EDGES", 97)
    monkeypatch.setattr(LevelWalk, "SLACK", -(1 << 40))  # give the pages back at every step
    released = []
    monkeypatch.setattr(traverse, "release_all", lambda *a: released.append(len(a)))
    steps = LevelWalk(ix.rstart, ix.rsrc, ix.pstart, ix.pdst, [first], ix.count,
                      (ix.phantom, ix.is_goroutine))
    assert len(released) > 100
    assert np.array_equal(whole.bounds, steps.bounds)
    assert np.array_equal(whole.queue[:len(whole)], steps.queue[:len(steps)])
    check_walk(ix, first, steps)


def test_positions_by_level_and_by_pass_agree(big_run):
    """Where reached nodes sit in the queue: a search per level (few nodes) and one pass over
    the queue (many) both find each node itself; unreached nodes are not found."""
    ix = load_index(str(big_run.dump))
    first = ix.find(int(big_run.facts["first_record"], 16))
    walk = LevelWalk(ix.rstart, ix.rsrc, ix.pstart, ix.pdst, [first], ix.count,
                     (ix.phantom, ix.is_goroutine))
    reached = walk.queue[:len(walk)].astype(np.int64)
    few = np.unique(reached[:: max(1, len(reached) // 7)])
    many = np.unique(reached[:: 3])
    assert (len(walk.bounds) - 1) * len(few) <= len(walk) // 16 < (len(walk.bounds) - 1) * len(many)
    for nodes in (few, many):
        pos = walk._positions(nodes)
        assert (pos >= 0).all() and np.array_equal(walk.queue[pos], nodes)
    paths_few = walk.paths(few)
    assert all(paths_few[v] == walk.paths([v])[v] for v in few[:5].tolist())
    assert not walk.reached(np.setdiff1d(np.arange(ix.count), reached)).any()
