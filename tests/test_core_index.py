"""A core file indexed (heapspurs.core.index.raw_scan_from_core, then build_index) is the heap its
program's heap dump gives.

tests/goprogs/corefile writes a heap dump and then blocks without allocating; gcore takes its
core. The core's index must have the dump's params, the dump's objects but its phantoms (the
span tails ``runtime.dumpobjs`` walks past ``nelems``), each with the dump's pointer slots
holding the dump's values but in the words the dump's own ending changed; its objects' bytes,
read from the core file at the offsets the scan gives, are the dump's; its goroutines and frames
are the dump's; and the objects the program holds only by a global are anchored by the same
globals. Each unchanged goroutine's frames carry the dump's pointer slots and values
(heapspurs/core/stackmaps.py), so frame roots are the dump's too.
"""

from __future__ import annotations

import numpy as np
import pytest

from heapspurs.analysis.anchors import find_anchors
from heapspurs.core.index import raw_scan_from_core
from heapspurs.core.layouts import RuntimeTypes
from heapspurs.index.heap_index import HeapIndex, build_index
from heapspurs.index.load import load_index
from heapspurs.scan.raw import ROOT_BSS, ROOT_DATA, ROOT_FRAME

# Objects named by the facts line of tests/goprogs/corefile (main.go), each held by a global
# only: the backing array of main.huge ([]byte, 3 MiB) and larges[0] (held through the backing
# array of main.larges).
HELD_BY_GLOBALS = {"huge": {("bss", "main.huge")}, "larges": {("bss", "main.larges")}}
# Objects whose bytes may differ between the dump and the core: the runtime's own bookkeeping,
# which the dump's ending and the idle threads after it change (the writing goroutine's g, its
# thread's m, the ps' run queues and timers, ...): a handful, never the program's data.
MAX_CHANGED_OBJECTS = 16


@pytest.fixture(scope="session")
def core_and_dump(corefile_run) -> tuple[HeapIndex, HeapIndex, RuntimeTypes]:
    raw = raw_scan_from_core(str(corefile_run.core), str(corefile_run.binary))
    ix = build_index(raw, str(corefile_run.core))
    dump = load_index(str(corefile_run.dump), use_cache=False)
    return ix, dump, RuntimeTypes(str(corefile_run.binary))


def _real(dump: HeapIndex) -> np.ndarray:
    """The dump's object ids other than phantoms, in address order."""
    return np.nonzero(~np.asarray(dump.phantom, bool))[0]


def _symbol(rt: RuntimeTypes, address: int) -> str:
    return (rt.binary.symbol(address) or hex(address)).split("+", 1)[0]


def test_params_and_objects_are_the_dumps(corefile_run, core_and_dump):
    ix, dump, _ = core_and_dump
    assert ix.params == dump.params
    assert ix.params.version == corefile_run.facts["version"]
    real = _real(dump)
    assert len(real) > 5000  # (the 1.21 dumps have no phantoms, the newer ones a few)
    assert np.array_equal(ix.addr, dump.addr[real])
    assert np.array_equal(ix.size, dump.size[real])
    assert not np.asarray(ix.phantom, bool).any()
    assert ix.raw.file_size == corefile_run.core.stat().st_size
    assert np.all(ix.off >= 0) and np.all(ix.off + ix.size.astype(np.int64) <= ix.raw.file_size)


def test_pointer_slots_are_the_dumps(core_and_dump):
    ix, dump, rt = core_and_dump
    real = _real(dump)
    counts = np.diff(ix.pstart)
    assert np.array_equal(counts, np.diff(dump.pstart)[real])
    rows = np.concatenate([np.arange(dump.pstart[j], dump.pstart[j + 1]) for j in real.tolist()])
    assert len(rows) == len(ix.poff) > 10000
    assert np.array_equal(ix.poff.astype(np.uint64), dump.poff[rows].astype(np.uint64))
    # Each slot resolves to the dump's object (pointers into the dump's phantoms, free slots,
    # to no object), but where its value changed (below).
    core_id = np.full(dump.count + 1, -1, np.int64)  # dump id -> core id; [-1] for -1
    core_id[real] = np.arange(len(real))
    same = ix.pval == dump.pval[rows]
    assert np.array_equal(ix.pdst[same], core_id[dump.pdst[rows]][same])
    # The values that differ are words of the goroutine that wrote the dump (its g: m, sched)
    # and of its thread's runtime.m (curg, preemptoff, allpSnapshot): test_core_pointers names
    # them field by field.
    src = np.repeat(np.arange(ix.count), counts)
    changed = {int(ix.addr[src[k]]) for k in np.nonzero(ix.pval != dump.pval[rows])[0]}
    (writer,) = [g.address for g in ix.raw.goroutines if g.goid == 1]
    m_size = rt.struct_size("runtime.m")
    others = {a for a in changed if a != writer}
    assert all(m_size <= int(ix.size[ix.find(a)]) < 2 * m_size for a in others), others
    assert len(others) <= 2


def test_contents_read_from_the_core_are_the_dumps(corefile_run, core_and_dump):
    ix, dump, rt = core_and_dump
    real = _real(dump)
    # The program's data: what its globals (main.*) point at, and what those point at.
    first = {int(o) for s in ix.raw.segments for off, v in zip(s.ptr_off.tolist(),
                                                                 s.ptr_val.tolist(), strict=True)
             if _symbol(rt, s.address + off).startswith("main.")
             for o in [ix.find(v)] if o >= 0}
    second = {int(d) for o in first for d in ix.pointers(o)[2].tolist() if d >= 0}
    named = {ix.find(int(corefile_run.facts[k], 16)) for k in HELD_BY_GLOBALS}
    mine = sorted(first | second | named)
    assert len(mine) > 1000 and -1 not in named
    differ = [o for o in mine if ix.contents(o) != dump.contents(int(real[o]))]
    assert not differ, [(hex(int(ix.addr[o])), int(ix.size[o])) for o in differ[:10]]
    huge = ix.find(int(corefile_run.facts["huge"], 16))
    assert int(ix.size[huge]) >= 3 << 20 and ix.contents(huge)[-1] == 1  # huge[len-1] = 1
    # Every other object but a handful of the runtime's.
    changed = [o for o in range(ix.count) if ix.contents(o) != dump.contents(int(real[o]))]
    assert len(changed) <= MAX_CHANGED_OBJECTS, len(changed)


def test_goroutines_and_frames_are_the_dumps(core_and_dump):
    ix, dump, _ = core_and_dump
    core_g, dump_g = ix.raw.goroutines, dump.raw.goroutines
    key = [(g.goid, g.address, g.gopc, g.system, g.background) for g in core_g]
    assert sorted(key) == sorted((g.goid, g.address, g.gopc, g.system, g.background)
                                 for g in dump_g)
    assert any(g.system for g in core_g) and not all(g.system for g in core_g)
    by_goid = {g.goid: i for i, g in enumerate(dump_g)}

    def frames(x: HeapIndex, gi: int) -> list[tuple]:
        r = x.raw
        return [(r.names[r.frame_name[f]], int(r.frame_sp[f]), int(r.frame_size[f]),
                 int(r.frame_pc[f]), int(r.frame_entry[f]), int(r.frame_depth[f]),
                 int(r.frame_child[f]),
                 r.fptr_off[r.frame_pstart[f]:r.frame_pstart[f + 1]].tolist(),
                 r.fptr_val[r.frame_pstart[f]:r.frame_pstart[f + 1]].tolist())
                for f in x.goroutine_frames(gi).tolist()]

    same = 0
    for gi, g in enumerate(core_g):
        d = dump_g[by_goid[g.goid]]
        if (g.status, g.sp, g.wait_reason) != (d.status, d.sp, d.wait_reason):
            continue  # the dump's writer, or a runtime goroutine that ran since
        assert frames(ix, gi) == frames(dump, by_goid[g.goid]), g.goid
        # The bytes at frame_off in the core file are the frame's, as the dump wrote them.
        for f, df in zip(ix.goroutine_frames(gi).tolist(),
                         dump.goroutine_frames(by_goid[g.goid]).tolist(), strict=True):
            assert ix.frame_contents(f) == dump.frame_contents(df), (g.goid, ix.frame_name(f))
        same += 1
    assert same >= 9
    assert len(ix.raw.fptr_off) > 0 and len(dump.raw.fptr_off) > 0  # slots were compared


def test_anchors_of_objects_held_by_globals(corefile_run, core_and_dump):
    ix, dump, rt = core_and_dump
    # The program's objects compared here are held by globals, which the core's data and BSS
    # words give in full; frames are roots too (their slots from the stack maps), left out of
    # this comparison only because the dump's writer's frames differ from the core's.
    assert {ROOT_DATA, ROOT_BSS, ROOT_FRAME} <= set(ix.roots.kind.tolist())

    def anchors(x: HeapIndex, obj: int) -> set[tuple[str, str]]:
        out = set()
        for a in find_anchors(x, obj).anchors:
            assert not a.conservative
            if a.kind == "frame":
                continue
            what = (_symbol(rt, a.slot) if a.kind in ("bss", "data")
                    else str(x.raw.goroutines[a.goroutine].goid) if a.kind == "goroutine"
                    else hex(a.slot))
            out.add((a.kind, what))
        return out

    for fact, expected in HELD_BY_GLOBALS.items():
        address = int(corefile_run.facts[fact], 16)
        obj, dobj = ix.find(address), dump.find(address)
        assert obj >= 0 and dobj >= 0 and int(ix.addr[obj]) == int(dump.addr[dobj]) == address
        core, dumped = anchors(ix, obj), anchors(dump, dobj)
        assert core == dumped, (fact, core, dumped)
        assert expected <= core, (fact, core)
