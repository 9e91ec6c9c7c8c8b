"""A core's finalizers, defers and panics (heapspurs.core.specials, through
heapspurs.core.index.raw_scan_from_core) are the records its program's heap dump gives.

tests/goprogs/corefile (specials.go) registers finalizers on objects it keeps, each finalizer a
closure holding an object nothing else holds, and blocks a goroutine in a function with two
pending (not open-coded) defers, each closure holding an object nothing else holds. The core's
finalizer records must be the dump's but the one of the file the dump was written to (closed,
its finalizer removed, after the dump); each unchanged goroutine's defers and panics the dump's;
and the objects held only by a finalizer's or a defer's closure anchored as in the dump.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from clirun import needs_tool
from coretools import GCORE, core_run

from heapspurs.analysis.anchors import find_anchors
from heapspurs.core.errors import CoreFileError
from heapspurs.core.index import raw_scan_from_core
from heapspurs.core.layouts import RuntimeTypes
from heapspurs.core.specials import _chain
from heapspurs.index.heap_index import HeapIndex, build_index
from heapspurs.index.load import load_index

# The finalizer of the *os.File the program wrote its dump to: in the dump, gone from the core
# (f.Close() after the dump removes it).
DUMP_FILE_FINALIZER = "os.(*file).close"
FINALIZED = 4  # objects specials.go gives a finalizer and keeps
QUEUED = 4  # objects it drops: the finalizer that blocks (running) and three queued behind it
DEFERRING = "main.specDeferring"


@pytest.fixture(scope="session")
def specials_run(go_version):
    needs_tool(GCORE, "gcore (Debian package gdb)")
    return core_run("corefile", go_version)


@pytest.fixture(scope="session")
def specials_core_and_dump(specials_run) -> tuple[HeapIndex, HeapIndex, RuntimeTypes]:
    raw = raw_scan_from_core(str(specials_run.core), str(specials_run.binary))
    ix = build_index(raw, str(specials_run.core))
    dump = load_index(str(specials_run.dump), use_cache=False)
    return ix, dump, RuntimeTypes(str(specials_run.binary))


def _symbol(rt: RuntimeTypes, pc: int) -> str:
    return (rt.binary.symbol(pc) or hex(pc)).split("+", 1)[0]


def _fkey(f) -> tuple:
    return (f.object, f.funcval, f.fn_pc, f.fint, f.ot, f.queued)


def test_finalizers_are_the_dumps(specials_core_and_dump):
    ix, dump, rt = specials_core_and_dump
    core, dumped = set(map(_fkey, ix.raw.finalizers)), set(map(_fkey, dump.raw.finalizers))
    assert len(core) == len(ix.raw.finalizers)
    assert core <= dumped, core - dumped
    assert {_symbol(rt, k[2]) for k in dumped - core} <= {DUMP_FILE_FINALIZER}, dumped - core
    mine = [f for f in ix.raw.finalizers if _symbol(rt, f.fn_pc).startswith("main.")]
    assert sum(not f.queued for f in mine) == FINALIZED and sum(f.queued for f in mine) == QUEUED
    assert all(ix.find(f.object) >= 0 for f in mine)
    # The finalizer goroutine, blocked in the program's finalizer (main.init.*) called by the
    # runtime's runfinq (runFinalizers since Go 1.26), is not the runtime's.
    (fing,) = [g for gi, g in enumerate(ix.raw.goroutines)
               for names in [[ix.raw.names[ix.raw.frame_name[f]]
                              for f in ix.goroutine_frames(gi).tolist()]]
               if any(n.startswith("main.init") for n in names)
               and {"runtime.runfinq", "runtime.runFinalizers"} & set(names)]
    assert fing.wait_reason == "chan send" and not fing.system


def _unchanged(ix: HeapIndex, dump: HeapIndex) -> list[tuple[int, int]]:
    """(core goroutine, dump goroutine) of the goroutines the dump and the core see alike."""
    by_goid = {g.goid: i for i, g in enumerate(dump.raw.goroutines)}
    out = []
    for gi, g in enumerate(ix.raw.goroutines):
        d = dump.raw.goroutines[by_goid[g.goid]]
        if (g.status, g.sp, g.wait_reason, g.defer, g.panic) == (d.status, d.sp, d.wait_reason,
                                                                  d.defer, d.panic):
            out.append((gi, by_goid[g.goid]))
    return out


def test_defers_and_panics_are_the_dumps(specials_core_and_dump):
    ix, dump, rt = specials_core_and_dump
    pairs = _unchanged(ix, dump)
    assert len(pairs) >= 9
    seen = 0
    for gi, di in pairs:
        g, d = ix.raw.goroutines[gi].address, dump.raw.goroutines[di].address
        assert [x for x in ix.raw.defers if x.goroutine == g] == \
            [x for x in dump.raw.defers if x.goroutine == d], ix.raw.goroutines[gi].goid
        assert [x for x in ix.raw.panics if x.goroutine == g] == \
            [x for x in dump.raw.panics if x.goroutine == d], ix.raw.goroutines[gi].goid
        seen += sum(x.goroutine == g for x in ix.raw.defers)
    mine = [x for x in ix.raw.defers if _symbol(rt, x.fn_pc).startswith(DEFERRING)]
    assert len(mine) == 2 and seen >= 2
    assert mine[0].link == mine[1].address and mine[1].link == 0
    heads = {g.defer for g in ix.raw.goroutines}
    assert mine[0].address in heads


def _anchors(x: HeapIndex, obj: int) -> set[tuple[str, str]]:
    out = set()
    for a in find_anchors(x, obj).anchors:
        if a.kind == "frame":
            continue
        what = (str(x.raw.goroutines[a.goroutine].goid) if a.kind == "goroutine"
                else hex(a.slot))
        out.add((a.kind, what))
    return out


def _held_by_closures(x: HeapIndex, funcvals: list[int]) -> list[int]:
    """The objects the closures at ``funcvals`` point to."""
    out = []
    for fv in funcvals:
        c = x.find(fv)
        assert c >= 0, hex(fv)
        out.extend(int(d) for d in x.pointers(c)[2].tolist() if d >= 0)
    return out


@pytest.mark.parametrize("kind", ["finalizer", "queued_finalizer", "defer"])
def test_anchors_of_objects_held_by_closures(specials_core_and_dump, kind):
    ix, dump, rt = specials_core_and_dump
    if kind in ("finalizer", "queued_finalizer"):
        funcvals = [f.funcval for f in ix.raw.finalizers if _symbol(rt, f.fn_pc).startswith(
            "main.") and f.queued == (kind == "queued_finalizer") and ix.find(f.funcval) >= 0]
    else:
        funcvals = [d.funcval for d in ix.raw.defers
                    if _symbol(rt, d.fn_pc).startswith(DEFERRING)]
    held = _held_by_closures(ix, funcvals)
    assert len(held) == len(funcvals) >= 2
    for obj in held:
        address = int(ix.addr[obj])
        dobj = dump.find(address)
        assert dobj >= 0 and int(dump.addr[dobj]) == address
        core, dumped = _anchors(ix, obj), _anchors(dump, dobj)
        assert core == dumped, (hex(address), core, dumped)
        assert kind in {k for k, _ in core}, (hex(address), core)


def test_a_looping_chain_is_one_error():
    # A defer chain whose record links back to itself, in made-up memory.
    record = (0x1000).to_bytes(8, "little") * 4

    class Space:
        core = SimpleNamespace(path="made-up.core", size=1 << 20)

        def read(self, address: int, n: int) -> bytes:
            return record[:n]

    with pytest.raises(CoreFileError, match="made-up.core: the defers .* loops back to 0x1000"):
        _chain(Space(), 0x1000, 32, 0, "the defers of goroutine 7")
    assert _chain(Space(), 0, 32, 0, "nothing") == []
