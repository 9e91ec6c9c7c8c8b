"""The dominator tree: native Lengauer-Tarjan against the Python version and against the
definition (x dominates y iff y is unreachable from the super-root once x is removed), on random
graphs (hypothesis) and on real dumps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heapspurs.analysis import dominators as dom
from heapspurs.analysis.dominators import SUPER_ROOT, UNREACHED, dominators_python
from heapspurs.index.heap_index import reverse_edges
from heapspurs.index.load import load_index


@st.composite
def graphs(draw):
    n = draw(st.integers(1, 14))
    edges = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(-1, n - 1)),
                          max_size=3 * n))
    rooted = sorted(set(draw(st.lists(st.integers(0, n - 1), max_size=3))))
    blocked = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    sizes = draw(st.lists(st.integers(1, 1000), min_size=n, max_size=n))
    return n, edges, rooted, blocked, sizes


def csr(n, edges):
    edges = sorted(edges, key=lambda e: e[0])
    indptr = np.zeros(n + 1, np.int64)
    for u, _ in edges:
        indptr[u + 1] += 1
    np.cumsum(indptr, out=indptr)
    return indptr, np.array([v for _, v in edges], np.int32)


def reach(n, indptr, targets, rooted, blocked, removed=None):
    seen = [False] * n
    stack = [r for r in rooted if r != removed]
    for r in stack:
        seen[r] = True
    while stack:
        u = stack.pop()
        if blocked[u]:
            continue
        for t in targets[indptr[u] : indptr[u + 1]].tolist():
            if t >= 0 and t != removed and not seen[t]:
                seen[t] = True
                stack.append(t)
    return seen


def naive(n, indptr, targets, rooted, blocked, sizes):
    """Immediate dominators and retained sizes straight from the definition."""
    base = reach(n, indptr, targets, rooted, blocked)
    doms = {y: {x for x in range(n) if x != y and base[x]
                and not reach(n, indptr, targets, rooted, blocked, removed=x)[y]}
            for y in range(n) if base[y]}
    idom = np.full(n, UNREACHED, np.int32)
    for y, ds in doms.items():
        # The immediate dominator is the strict dominator that all others dominate.
        imm = [d for d in ds if all(o == d or o in doms[d] for o in ds)]
        idom[y] = imm[0] if imm else SUPER_ROOT
    retained = np.zeros(n, np.uint64)
    for y in doms:
        retained[y] = sizes[y] + sum(sizes[z] for z in doms if y in doms[z])
    return idom, retained


def native(n, indptr, targets, rooted, blocked, sizes):
    skip = np.array(blocked, bool)
    rstart, rsrc, _ = reverse_edges(indptr, targets, skip)
    idom = np.empty(n, np.int32)
    retained = np.empty(n, np.uint64)
    dom._cgraph.dominators(indptr, targets, rstart, rsrc, np.array(rooted, np.int32),
                           skip.view(np.uint8), np.array(sizes, np.uint64), idom, retained, n,
                           len(targets), len(rsrc), len(rooted))
    return idom, retained


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_dominators_agree_with_the_definition(g):
    n, edges, rooted, blocked, sizes = g
    indptr, targets = csr(n, edges)
    want = naive(n, indptr, targets, rooted, blocked, sizes)
    got_py = dominators_python(indptr, targets, np.array(rooted, np.int32),
                               np.array(blocked, bool), np.array(sizes, np.uint64))
    assert np.array_equal(got_py[0], want[0]) and np.array_equal(got_py[1], want[1])
    if dom._cgraph is not None:
        got = native(n, indptr, targets, rooted, blocked, sizes)
        assert np.array_equal(got[0], want[0]), (got[0], want[0])
        assert np.array_equal(got[1], want[1])


def test_long_chain_does_not_recurse():
    """A linked list a million nodes long: iterative DFS and path compression."""
    n = 1_000_000
    indptr = np.arange(n + 1, dtype=np.int64)
    targets = np.arange(1, n + 1, dtype=np.int32)
    targets[-1] = -1
    idom, retained = native(n, indptr, targets, [0], [False] * n, [16] * n)
    assert idom[0] == SUPER_ROOT and (idom[1:] == np.arange(n - 1)).all()
    assert retained[0] == 16 * n and retained[-1] == 16


@pytest.mark.parametrize("program", ["leaks", "basics"])
def test_native_equals_python_on_real_dumps(program, go_version):
    from gotools import run_dump

    ix = load_index(str(run_dump(program, go_version).dump))
    idom, retained = dom._compute(ix, native=True)
    py_idom, py_retained = dom._compute(ix, native=False)
    assert np.array_equal(idom, py_idom) and np.array_equal(retained, py_retained)
    # Reachable exactly when the reachability BFS says so; the super-root retains them all.
    from heapspurs.analysis.reach import reachable_mask

    reach_ = reachable_mask(ix)
    assert np.array_equal(idom != UNREACHED, reach_)
    assert int(retained[idom == SUPER_ROOT].sum()) == int(ix.size[reach_].sum())


@pytest.mark.parametrize("program", ["retain", "leaks"])
def test_native_root_labels_equal_python(program, go_version):
    """Which single root group reaches each object: the native pass and the Python one."""
    from gotools import run_dump

    from heapspurs.analysis import root_groups as rg

    ix = load_index(str(run_dump(program, go_version).dump))
    gid, groups = rg.default_keys(ix)
    native = rg.label_objects(ix, ix.roots.obj, gid)
    python = rg._label_python(ix, np.asarray(ix.roots.obj, np.int64), gid,
                              rg.blocked_for_labels(ix))
    assert np.array_equal(native, python)
    assert len(groups) > 1 and (native >= 0).any() and (native == rg.MULTI).any()
