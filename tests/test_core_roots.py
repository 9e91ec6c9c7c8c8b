"""Go core files: the roots a core gives (heapspurs.core.roots) are the roots its program's heap
dump gives.

tests/goprogs/corefile writes a heap dump and then blocks (main in ``select {}``) without
allocating; gcore takes its core. Its init (roots.go) starts goroutines that block in a channel
receive, a select, a sleep, a sync.Mutex and a blocking read system call, and its globals start
out holding pointers. The core's data and BSS pointer words must be the dump's exactly and hold
the same values but for the few the dump itself changes as it ends; its live goroutines are the
dump's (same g, id, go statement), the program's own unchanged; each thread is found running its
m, the one in a system call on its goroutine's stack. Corrupt cores: one line each.
"""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from heapspurs.core.elf_core import open_core
from heapspurs.core.errors import CoreFileError
from heapspurs.core.goroutines import G_SYSCALL, G_WAITING
from heapspurs.core.layouts import RuntimeTypes
from heapspurs.core.memory import open_address_space
from heapspurs.core.roots import core_roots, roots_of
from heapspurs.index.load import load_index

# The program's own blocked goroutines (roots.go): their wait reasons, the syscall one aside.
HELD_WAITS = {"chan receive", "select", "sleep", "sync.Mutex.Lock"}
# Pointer words of the runtime that change between the dump and the core, by the dump's own
# ending and the idling after it: runtime.tmpbuf, the dump's buffer, is freed and set to nil as
# writeheapdump_m ends; the m that stopped the world for the dump ran the goroutine that wrote
# it (m.curg: nil once main parks in select {}) and held "write heap dump" as its m.preemptoff
# until startTheWorld cleared it; an m that then looks for work in findRunnable keeps a
# snapshot of allp in m.allpSnapshot (Go 1.22+). Where that m is runtime.m0 (in .bss) its
# fields show here; other ms are in the heap.
CHANGED_BY_THE_DUMP = {"runtime.tmpbuf", "runtime.m0.curg", "runtime.m0.preemptoff",
                       "runtime.m0.allpSnapshot"}


@pytest.fixture(scope="session")
def roots_and_dump(corefile_run):
    rt = RuntimeTypes(str(corefile_run.binary))
    with open_core(str(corefile_run.core)) as core, \
            open_address_space(core, str(corefile_run.binary)) as space:
        roots = roots_of(space, rt)
        # rootsHeld[0], read through the slice the BSS holds.
        held = rt.global_var("main.rootsHeld").address
        first = space.word(space.word(held))
    ix = load_index(str(corefile_run.dump), use_cache=False)
    return rt, roots, ix, first


def slot_name(rt: RuntimeTypes, address: int) -> str:
    """``symbol`` or ``symbol.field`` (a runtime.m's field, by DWARF) of a global's word."""
    label = rt.binary.symbol(address) or hex(address)
    name, _, off = label.partition("+")
    if name == "runtime.m0":
        offset = int(off, 16) if off else 0
        t = rt.types.types[rt.global_var(name).type]
        for fname, o, ft in t.fields:
            r = rt.types.resolve(ft)
            if o <= offset < o + rt.types.types[r].size:
                return f"{name}.{fname}"
    return label


def test_data_and_bss_pointer_words_are_the_dumps(roots_and_dump):
    rt, roots, ix, first = roots_and_dump
    assert [s.bss for s in roots.segments] == [False, True]
    changed = []
    for seg in roots.segments:
        (dump,) = [d for d in ix.raw.segments if d.bss == seg.bss]
        assert (seg.address, seg.size) == (dump.address, dump.size)
        assert seg.mask_bits == seg.size // 8  # one bit per whole word, as the runtime builds it
        assert len(seg.ptr_off) > 1000
        assert np.array_equal(seg.ptr_off, dump.ptr_off), seg.name
        for i in np.nonzero(seg.ptr_val != dump.ptr_val)[0].tolist():
            a = seg.address + int(seg.ptr_off[i])
            changed.append((slot_name(rt, a), int(dump.ptr_val[i]), int(seg.ptr_val[i])))
    unexplained = [(n, hex(d), hex(c)) for n, d, c in changed if n not in CHANGED_BY_THE_DUMP]
    assert not unexplained, f"pointer words changed between the dump and the core: {unexplained}"
    # The dump's buffer was there while it wrote, and is gone in the core.
    assert [(d != 0, c) for n, d, c in changed if n == "runtime.tmpbuf"] == [(True, 0)]
    # The program's globals: a pointer in .data to a static object, a string, a slice in .bss
    # whose first element is that pointer.
    data, bss = roots.segments
    static = rt.global_var("main.rootsStatic").address
    text = rt.global_var("main.rootsText").address
    held = rt.global_var("main.rootsHeld").address
    assert data.address <= static < data.end and data.address <= text < data.end
    assert bss.address <= held < bss.end
    value = dict(zip((data.address + data.ptr_off).tolist(), data.ptr_val.tolist(), strict=True))
    bss_value = dict(zip((bss.address + bss.ptr_off).tolist(), bss.ptr_val.tolist(),
                         strict=True))
    assert value[static] and value[text] and bss_value[held]
    assert first == value[static]


def test_goroutines_are_the_dumps(roots_and_dump):
    rt, roots, ix, _ = roots_and_dump
    live = {g.goid: g for g in roots.live_goroutines}
    dump = {g.goid: g for g in ix.raw.goroutines}
    assert len(live) == len(roots.live_goroutines)  # goids are unique
    assert set(live) == set(dump)
    changed = {}
    for goid, g in live.items():
        d = dump[goid]
        assert (g.address, g.gopc) == (d.address, d.gopc), goid
        assert g.stack_lo <= g.sp < g.stack_hi, goid
        fields = {"status": (d.status, g.status), "wait_reason": (d.wait_reason, g.wait_reason),
                  "sp": (d.sp, g.sp), "m": (d.m, g.m), "ctxt": (d.ctxt, g.ctxt),
                  "defer": (d.defer, g.defer), "panic": (d.panic, g.panic),
                  "waitsince": (d.wait_since, g.waitsince)}
        diff = {k: v for k, v in fields.items() if v[0] != v[1]}
        if diff:
            changed[goid] = (rt.binary.symbol(g.startpc), diff)
    # What may change between the dump and the core: the goroutine that wrote the dump (main,
    # "dumping heap" then parked in select {}), and the runtime's own goroutines (the
    # scavenger or sweeper may wake after the GC and park again). The program's others, blocked
    # since init, must not.
    writer = [goid for goid, d in dump.items() if d.wait_reason == "dumping heap"]
    assert writer == [1]
    assert live[1].wait_reason == "select (no cases)" and live[1].status == G_WAITING
    assert live[1].m == 0 and dump[1].m != 0
    unexplained = {goid: c for goid, c in changed.items()
                   if goid != 1 and not (c[0] or "").startswith("runtime.")}
    assert not unexplained, unexplained
    # The program's held goroutines (started by init, in roots.go), in every state it made.
    mine = [g for g in live.values() if (rt.binary.symbol(g.startpc) or "").startswith(
        "main.init")]
    assert {g.wait_reason for g in mine if g.status == G_WAITING} == HELD_WAITS
    (sys_g,) = [g for g in mine if g.status == G_SYSCALL]
    assert sys_g.syscall_sp == sys_g.sp and sys_g.m
    assert dump[sys_g.goid].status == G_SYSCALL and dump[sys_g.goid].sp == sys_g.syscall_sp


def test_threads_run_their_ms(corefile_run, roots_and_dump):
    rt, roots, _, _ = roots_and_dump
    threads = roots.threads
    assert threads and all(t.m is not None for t in threads), [t.thread.tid for t in threads]
    assert len({t.m.address for t in threads}) == len(threads)
    assert corefile_run.facts["pid"] in [t.thread.tid for t in threads]
    # The only user goroutine running is the one in its read system call: its thread's m runs
    # it, the TLS names it, and the thread's registers are on its stack, below the sp it saved
    # on entering the system call. Every other thread waits in the scheduler, on its g0.
    running = [t for t in threads if t.goroutine is not None]
    assert len(running) == 1
    (t,) = running
    g = t.goroutine
    assert g.status == G_SYSCALL and t.m.address == g.m
    assert t.on == "curg" and t.tls_g == g.address
    assert t.registers_on_goroutine_stack and g.stack_lo <= t.thread.rsp < g.syscall_sp
    assert "Syscall" in (rt.binary.symbol(t.thread.rip) or "")
    assert all(o.on == "g0" for o in threads if o is not t)


def _dump_frames(ix, goid: int) -> list[tuple[str, int, int, int]]:
    r = ix.raw
    (gi,) = [i for i, d in enumerate(r.goroutines) if d.goid == goid]
    rows = np.nonzero(r.frame_goroutine == gi)[0]
    return [(r.names[r.frame_name[i]], int(r.frame_sp[i]), int(r.frame_size[i]),
             int(r.frame_pc[i])) for i in rows]


def test_frames_unwound_are_the_dumps(corefile_run, roots_and_dump):
    """Each goroutine unchanged since the dump unwinds, with the pclntab, to the dump's frames
    (function, sp, size, pc), and its frames' pointer words in the core hold the dump's values:
    the locals of the program's blocked goroutines among them."""
    rt, roots, ix, _ = roots_and_dump
    dump = {g.goid: g for g in ix.raw.goroutines}
    checked = []
    for g in roots.live_goroutines:
        frames = roots.frames[g.address]
        assert frames and frames[-1].name == "runtime.goexit", (g.goid, frames)
        d = dump[g.goid]
        if (d.status, d.sp, d.wait_reason) != (g.status, g.sp, g.wait_reason):
            assert g.goid == 1 or rt.binary.symbol(g.startpc).startswith("runtime."), g.goid
            continue  # the dump's writer, or a runtime goroutine that ran since
        mine = [(f.name, f.sp, f.size, f.pc) for f in frames]
        assert mine == _dump_frames(ix, g.goid), g.goid
        checked.append(g.goid)
    names = {f.name for g in roots.live_goroutines for f in roots.frames[g.address]}
    assert {"main.holdRecv", "main.holdSelect", "main.holdSleep", "main.holdMutex",
            "main.holdSyscall", "main.nest"} <= names
    assert len(checked) >= 9
    # The dump's pointer slots of those frames hold in the core what they held in the dump.
    r = ix.raw
    rows = [i for i in range(len(r.frame_sp))
            if r.goroutines[r.frame_goroutine[i]].goid in checked]
    slots = 0
    with open_core(str(corefile_run.core)) as core, \
            open_address_space(core, str(corefile_run.binary)) as space:
        for i in rows:
            for k in range(int(r.frame_pstart[i]), int(r.frame_pstart[i + 1])):
                at = int(r.frame_sp[i]) + int(r.fptr_off[k])
                assert space.word(at) == int(r.fptr_val[k]), (r.names[r.frame_name[i]], hex(at))
                slots += 1
    assert slots >= 10


# --- Corrupt cores: one line each, nothing allocated by a field the core gives --------------

def _file_offset(core_path: Path, address: int) -> int:
    with open_core(str(core_path)) as core:
        s = core.segment_at(address)
        assert s is not None and address - s.vaddr < s.filesz
        return s.offset + address - s.vaddr


@pytest.fixture
def patched(corefile_run, tmp_path):
    """patched(address, bytes) -> a copy of the core (sparse) with ``bytes`` at ``address``."""
    def make(address: int, data: bytes) -> Path:
        out = tmp_path / f"patched-{address:x}.core"
        subprocess.run(["cp", "--sparse=always", str(corefile_run.core), str(out)], check=True)
        at = _file_offset(corefile_run.core, address)
        with open(out, "r+b") as f:
            f.seek(at)
            f.write(data)
        return out
    return make


def _one_line(e: pytest.ExceptionInfo, path: Path) -> str:
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg, msg
    return msg


def test_corrupt_allgs(corefile_run, patched):
    rt = RuntimeTypes(str(corefile_run.binary))
    allgs = rt.global_var("runtime.allgs").address
    bad = patched(allgs + 8, struct.pack("<QQ", 1 << 40, 1 << 40))  # length, capacity
    with pytest.raises(CoreFileError) as e:
        core_roots(str(bad), str(corefile_run.binary))
    assert "runtime.allgs has length 1099511627776" in _one_line(e, bad)
    bad = patched(allgs + 8, struct.pack("<Q", 1 << 40))  # longer than its capacity
    with pytest.raises(CoreFileError) as e:
        core_roots(str(bad), str(corefile_run.binary))
    _one_line(e, bad)
    with open_core(str(corefile_run.core)) as core, \
            open_address_space(core, str(corefile_run.binary)) as space:
        array = space.word(allgs)
    bad = patched(array, struct.pack("<Q", 0x10))  # allgs[0] nowhere
    with pytest.raises(CoreFileError) as e:
        core_roots(str(bad), str(corefile_run.binary))
    assert "runtime.allgs[0] is 0x10" in _one_line(e, bad)


def test_corrupt_allm_loop(corefile_run, patched):
    rt = RuntimeTypes(str(corefile_run.binary))
    alllink = rt.field("runtime.m", "alllink").offset
    with open_core(str(corefile_run.core)) as core, \
            open_address_space(core, str(corefile_run.binary)) as space:
        first = space.word(rt.global_var("runtime.allm").address)
    bad = patched(first + alllink, struct.pack("<Q", first))  # the first m links to itself
    with pytest.raises(CoreFileError) as e:
        core_roots(str(bad), str(corefile_run.binary))
    assert "runtime.allm loops back" in _one_line(e, bad)


def test_corrupt_module_data(corefile_run, patched):
    rt = RuntimeTypes(str(corefile_run.binary))
    md = rt.global_var("runtime.firstmoduledata").address
    n = rt.field("runtime.moduledata", "gcbssmask.n").offset
    bad = patched(md + n, struct.pack("<i", 0x7FFFFFFF))
    with pytest.raises(CoreFileError) as e:
        core_roots(str(bad), str(corefile_run.binary))
    assert "bss segment's pointer mask has 2147483647 bits" in _one_line(e, bad)
    edata = rt.field("runtime.moduledata", "edata").offset
    bad = patched(md + edata, struct.pack("<Q", 1 << 62))
    with pytest.raises(CoreFileError) as e:
        core_roots(str(bad), str(corefile_run.binary))
    assert "runtime.firstmoduledata puts data at" in _one_line(e, bad)


def test_corrupt_return_address(corefile_run, roots_and_dump, patched):
    rt, roots, _, _ = roots_and_dump
    (g,) = [g for g in roots.live_goroutines if g.wait_reason == "chan receive"]
    first = roots.frames[g.address][0]
    bad = patched(first.fp - 8, struct.pack("<Q", 0x10))  # gopark returns nowhere
    with pytest.raises(CoreFileError) as e:
        core_roots(str(bad), str(corefile_run.binary))
    assert f"goroutine {g.goid}'s runtime.gopark returns to 0x10" in _one_line(e, bad)
    sp = rt.field("runtime.g", "sched.sp").offset
    bad = patched(g.address + sp, struct.pack("<Q", g.stack_hi - 8))  # a frame past the stack
    with pytest.raises(CoreFileError) as e:
        core_roots(str(bad), str(corefile_run.binary))
    assert "is outside its stack" in _one_line(e, bad)


def test_corrupt_wait_reason(corefile_run, patched):
    rt = RuntimeTypes(str(corefile_run.binary))
    reasons = rt.global_var("runtime.waitReasonStrings").address
    bad = patched(reasons + 16 + 8, struct.pack("<Q", 1 << 50))  # [1]'s length
    with pytest.raises(CoreFileError) as e:
        core_roots(str(bad), str(corefile_run.binary))
    assert "runtime.waitReasonStrings[1]" in _one_line(e, bad)
