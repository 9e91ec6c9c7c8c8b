"""Go core files: each unwound frame's pointer slots (heapspurs.core.stackmaps) are the ones the
heap dump writes for it, and hold in the core what they held in the dump.

For every goroutine whose frames in the core are the dump's (function, sp, size, pc: all but the
dump's writer and a runtime goroutine that ran since, test_core_roots), each frame's slot offsets
from its sp equal the dump's (``fptr_off`` between its ``frame_pstart`` bounds), in the dump's
order, and the words the core holds there equal the dump's ``fptr_val``: with no allowed
difference, as these goroutines have not run since the dump. Two programs: tests/goprogs/corefile
(goroutines blocked in a channel receive, a select, a sleep, a mutex, a system call) and
tests/goprogs/corestack (reflect's assembly stubs, many pointer arguments, address-taken locals,
a deferred call). The paths no parked goroutine takes (frames without maps) are checked on
made-up tables. Corrupt stack maps and pc tables: one line each.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from clirun import needs_tool
from coretools import GCORE, core_run

from heapspurs.core.elf_core import open_core
from heapspurs.core.errors import CoreFileError
from heapspurs.core.layouts import RuntimeTypes
from heapspurs.core.memory import open_address_space
from heapspurs.core.roots import roots_of
from heapspurs.core.stackmaps import (
    FUNCDATA_LOCALS_POINTER_MAPS,
    PCDATA_STACK_MAP_INDEX,
    FrameSlots,
)
from heapspurs.core.unwind import Frame, Func, FuncTable
from heapspurs.index.load import load_index
from heapspurs.names.elf_binary import read_binary


@pytest.fixture(scope="session")
def corestack_run(go_version):
    needs_tool(GCORE, "gcore (Debian package gdb)")
    return core_run("corestack", go_version)


@pytest.fixture(scope="session")
def core_and_dump(corefile_run):
    rt = RuntimeTypes(str(corefile_run.binary))
    ix = load_index(str(corefile_run.dump), use_cache=False)
    return rt, ix


def _frames_slots(corefile_run, rt, program: Path | None = None):
    """(roots, {g address: [(offsets, values)]}) for the live goroutines of the core."""
    with open_core(str(corefile_run.core)) as core, \
            open_address_space(core, str(program or corefile_run.binary)) as space:
        roots = roots_of(space, rt)
        fs = FrameSlots(space, FuncTable(space, rt), rt)
        out = {}
        for g in roots.live_goroutines:
            frames = roots.frames[g.address]
            out[g.address] = [(o, fs.values(fr, o))
                              for fr, o in zip(frames, fs.slots(frames), strict=True)]
        return roots, out


def _dump_frames(ix, goid: int) -> list[int]:
    r = ix.raw
    (gi,) = [i for i, d in enumerate(r.goroutines) if d.goid == goid]
    return np.nonzero(r.frame_goroutine == gi)[0].tolist()


def compare(roots, slots, ix) -> tuple[int, int, list]:
    """(frames compared, slots compared, differences) over the goroutines the core and the dump
    see the same frames of (all but one or two: test_core_roots)."""
    r = ix.raw
    frames_seen = slots_seen = goroutines_seen = 0
    diffs = []
    for g in roots.live_goroutines:
        frames = roots.frames[g.address]
        rows = _dump_frames(ix, g.goid)
        mine = [(f.name, f.sp, f.size, f.pc) for f in frames]
        theirs = [(r.names[r.frame_name[i]], int(r.frame_sp[i]), int(r.frame_size[i]),
                   int(r.frame_pc[i])) for i in rows]
        if mine != theirs:
            continue  # it ran since the dump (test_core_roots says which may)
        goroutines_seen += 1
        for f, (offs, vals), i in zip(frames, slots[g.address], rows, strict=True):
            s, e = int(r.frame_pstart[i]), int(r.frame_pstart[i + 1])
            d_offs, d_vals = r.fptr_off[s:e], r.fptr_val[s:e]
            if not np.array_equal(offs, d_offs):
                diffs.append((g.goid, f.name, "offsets", offs.tolist(), d_offs.tolist()))
            elif not np.array_equal(vals, d_vals):
                diffs.append((g.goid, f.name, "values", [hex(v) for v in vals.tolist()],
                              [hex(v) for v in d_vals.tolist()]))
            frames_seen += 1
            slots_seen += e - s
    assert goroutines_seen >= len(roots.live_goroutines) - 2
    return frames_seen, slots_seen, diffs


def test_frame_slots_are_the_dumps(corefile_run, core_and_dump):
    rt, ix = core_and_dump
    roots, slots = _frames_slots(corefile_run, rt)
    frames_seen, slots_seen, diffs = compare(roots, slots, ix)
    print(f"go {corefile_run.version}: {frames_seen} frames, {slots_seen} pointer slots compared")
    assert not diffs, diffs
    assert frames_seen >= 40 and slots_seen >= 20
    # The program's own frames hold pointers in their locals (roots.go's hold* functions).
    held = [o for g in roots.live_goroutines
            for f, (o, _) in zip(roots.frames[g.address], slots[g.address], strict=True)
            if f.name.startswith("main.hold")]
    assert held and sum(len(o) for o in held) >= 3


def test_frame_slots_are_the_dumps_reflect_and_arguments(corestack_run):
    """tests/goprogs/corestack: frames of reflect's stubs (their arguments' size from the
    reflect.methodValue they saved), of many pointer arguments, of address-taken locals and
    under a deferred call."""
    rt = RuntimeTypes(str(corestack_run.binary))
    ix = load_index(str(corestack_run.dump), use_cache=False)
    roots, slots = _frames_slots(corestack_run, rt)
    frames_seen, slots_seen, diffs = compare(roots, slots, ix)
    print(f"go {corestack_run.version}: {frames_seen} frames, {slots_seen} pointer slots "
          "compared")
    assert not diffs, diffs
    names = {f.name for g in roots.live_goroutines for f in roots.frames[g.address]}
    assert {"reflect.makeFuncStub", "reflect.methodValueCall", "main.manyArgs",
            "main.addressTaken", "main.deferred"} <= names, names
    assert frames_seen >= 40 and slots_seen >= 40


def test_comparison_can_fail(corefile_run, core_and_dump):
    """An offset one word off, or a value changed, is a difference the comparison reports."""
    rt, ix = core_and_dump
    roots, slots = _frames_slots(corefile_run, rt)
    g, k = next((g, k) for g in roots.live_goroutines
                for k, (o, _) in enumerate(slots[g.address]) if len(o) and g.goid != 1)
    offs, vals = slots[g.address][k]
    slots[g.address][k] = (offs + np.uint64(8), vals)
    _, _, diffs = compare(roots, slots, ix)
    assert [(d[0], d[2]) for d in diffs] == [(g.goid, "offsets")]
    slots[g.address][k] = (offs, vals ^ np.uint64(1))
    _, _, diffs = compare(roots, slots, ix)
    assert [(d[0], d[2]) for d in diffs] == [(g.goid, "values")]


# --- Corrupt stack maps: one line each --------------------------------------------------------
# The pclntab and the stack maps are read-only data the core leaves out: the address space reads
# them from the program, so the corruption is in a copy of the program (same build id).

def _holdrecv(corefile_run, rt):
    """main.holdRecv's frame (a channel receive: its locals hold a pointer), its function, its
    locals map's address and its stack-map index."""
    with open_core(str(corefile_run.core)) as core, \
            open_address_space(core, str(corefile_run.binary)) as space:
        roots = roots_of(space, rt)
        table = FuncTable(space, rt)
        (g,) = [g for g in roots.live_goroutines if g.wait_reason == "chan receive"]
        fr = next(fr for fr in roots.frames[g.address] if fr.name == "main.holdRecv")
        f = table.find(fr.pc)
        address = table.funcdata(f, FUNCDATA_LOCALS_POINTER_MAPS)
        assert address is not None and core.segment_at(address) is None  # not in the core
        index = FrameSlots(space, table, rt)._map_index(f, fr)
        return f, address, index, struct.unpack("<ii", space.read(address, 8))


def _patched_program(corefile_run, tmp_path: Path, address: int, data: bytes) -> Path:
    binary = read_binary(str(corefile_run.binary))
    (offset,) = [o + address - a for a, e, o in binary.file_ranges if a <= address < e]
    out = tmp_path / corefile_run.binary.name
    shutil.copyfile(corefile_run.binary, out)
    with open(out, "r+b") as f:
        f.seek(offset)
        f.write(data)
    return out


def _fails(corefile_run, program: Path) -> str:
    with pytest.raises(CoreFileError) as e:
        _frames_slots(corefile_run, RuntimeTypes(str(program)), program=program)
    msg = str(e.value)
    assert "\n" not in msg and str(corefile_run.core) in msg, msg
    return msg


def test_corrupt_stack_map(corefile_run, core_and_dump, tmp_path):
    rt, _ = core_and_dump
    f, address, index, (n, nbit) = _holdrecv(corefile_run, rt)
    assert n > index >= 1 and nbit >= 1
    # A map of more bits than the frame has words: nothing is read or allocated by it.
    bad = _patched_program(corefile_run, tmp_path, address, struct.pack("<ii", n, 1 << 30))
    assert "main.holdRecv's locals pointer maps have 1073741824 bits" in _fails(corefile_run,
                                                                                 bad)
    # Fewer bitmaps than the frame's index asks for.
    bad = _patched_program(corefile_run, tmp_path, address, struct.pack("<ii", index, nbit))
    assert (f"main.holdRecv's locals pointer map {index} is not among its {index}"
            in _fails(corefile_run, bad))


def test_corrupt_pcdata_offsets(corefile_run, core_and_dump, tmp_path):
    """A stack map index table that runs out before the frame's pc, and a record whose pcdata
    offsets would run past the function table."""
    rt, _ = core_and_dump
    f, _, _, _ = _holdrecv(corefile_run, rt)
    with open_core(str(corefile_run.core)) as core, \
            open_address_space(core, str(corefile_run.binary)) as space:
        table = FuncTable(space, rt)
        tail = table.func_fields["nfuncdata"].offset + 1
        at = f.record + tail + 4 * PCDATA_STACK_MAP_INDEX
        pcdata = int.from_bytes(table.pclntable[at:at + 4], "little")
        md = rt.global_var("runtime.firstmoduledata").address
        pctab = space.word(md + rt.field("runtime.moduledata", "pctab").offset)
        past = type(f)(f.entry, f.name, f.pcsp, f.flag, f.args, f.npcdata, f.nfuncdata,
                       len(table.pclntable) - 2)
        with pytest.raises(CoreFileError) as e:
            table.funcdata(past, FUNCDATA_LOCALS_POINTER_MAPS)
        assert "\n" not in str(e.value) and "run past the function table" in str(e.value)
    # The table's first pair covers one byte of code, then ends.
    bad = _patched_program(corefile_run, tmp_path, pctab + pcdata, b"\x02\x01\x00")
    assert "main.holdRecv's pc-value table" in _fails(corefile_run, bad)


# --- The paths no blocked goroutine takes, on made-up tables ----------------------------------
# A goroutine parked by the scheduler is never in an assembly function without stack maps but
# runtime.goexit (no locals map, an empty range); a frame without a locals map or whose callee
# has no arguments map (every word of its arguments then) is one interrupted while it runs.

class _Core:
    path = "made-up.core"


class _Space:
    core = _Core()

    def __init__(self, memory: dict[int, bytes]):
        self.memory = memory

    def read(self, address: int, size: int) -> bytes:
        base = max(a for a in self.memory if a <= address)
        return self.memory[base][address - base:address - base + size]

    def word(self, address: int) -> int:
        return 0x1234


class _Table:
    def __init__(self, funcs: dict[int, Func], maps: dict[tuple[int, int], int]):
        self.funcs, self.maps = funcs, maps

    def find(self, pc: int) -> Func:
        return self.funcs[pc & ~0xFF]

    def pcdata_value(self, f: Func, table: int, pc: int) -> int:
        return -1  # no stack map index: map 0

    def funcdata(self, f: Func, index: int) -> int | None:
        return self.maps.get((f.entry, index))


def _stackmap(n: int, nbit: int, *bitmaps: int) -> bytes:
    size = (nbit + 7) >> 3
    return struct.pack("<ii", n, nbit) + b"".join(b.to_bytes(size, "little") for b in bitmaps)


def _made_up(asm_args: int = 16, locals_n: int = 1, args_nbit: int = 1):
    asm = Func(0x1000, "asm", 0, 0, args=asm_args)  # no maps at all
    caller = Func(0x2000, "caller", 0, 0, args=8)
    goexit = Func(0x3000, "runtime.goexit", 0, 1)
    memory = {0x9000: _stackmap(locals_n, 3, 0b101), 0x9100: _stackmap(1, args_nbit, 0b1),
              0x9200: _stackmap(1, 0)}
    maps = {(0x2000, FUNCDATA_LOCALS_POINTER_MAPS): 0x9000, (0x2000, 0): 0x9100,
            (0x3000, 0): 0x9200}
    frames = [Frame("asm", 0x1000, 0x1010, 0x8000, 0x8028),
              Frame("caller", 0x2000, 0x2010, 0x8028, 0x8068),
              Frame("runtime.goexit", 0x3000, 0x3001, 0x8068, 0x8070)]
    table = _Table({f.entry: f for f in (asm, caller, goexit)}, maps)
    return FrameSlots(_Space(memory), table, None), frames  # type: ignore[arg-type]


def test_conservative_frames():
    fs, frames = _made_up()
    got = [o.tolist() for o in fs.slots(frames)]
    # asm: no locals map, every word below varp (fp - return address - frame pointer);
    # caller: asm's 16 bytes of arguments, every word, then its locals map's bits 0 and 2
    # ending at varp (48 bytes above sp); goexit: caller's arguments map, bit 0.
    assert got == [[0, 8, 16], [0, 8, 24, 40], [0]]
    # A locals map with a negative count: that many bytes of words below varp.
    fs, frames = _made_up(locals_n=-16)
    assert [o.tolist() for o in fs.slots(frames)] == [[0, 8, 16], [0, 8, 32, 40], [0]]


def test_conservative_frames_corrupt():
    for kwargs, what in (({"asm_args": 1 << 30}, "caller's callee has 1073741824 bytes"),
                         ({"locals_n": -(1 << 30)}, "caller's locals are 1073741824 bytes"),
                         ({"args_nbit": 1 << 30}, "caller's arguments pointer maps have")):
        fs, frames = _made_up(**kwargs)
        with pytest.raises(CoreFileError) as e:
            fs.slots(frames)
        assert what in str(e.value) and "made-up.core" in str(e.value), str(e.value)
