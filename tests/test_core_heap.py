"""Go core files (heapspurs.core): the heap a core shows is the heap the program's dump shows.

tests/goprogs/corefile builds a heap (thousands of objects in many size classes, every other one
dropped before a GC), writes a heap dump, prints its facts and blocks without allocating; gcore
takes its core. The core's allocated objects (address, size) must equal the dump's objects other
than phantoms (the span tails ``runtime.dumpobjs`` walks past ``nelems``). Then the errors: a
truncated core, files that are not cores, a core of a non-Go program, a core with the wrong
program — each one ValueError whose one-line message names the file. The reader's own checks
run on small cores made by hand.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from clirun import needs_tool
from coretools import GCORE, gcore_of
from gotools import NEWEST, build

from heapspurs.core.elf_core import is_core, open_core
from heapspurs.core.errors import CoreFileError, UnmappedAddress
from heapspurs.core.heap import core_heap
from heapspurs.core.memory import open_address_space, program_segments
from heapspurs.index.load import load_index


@pytest.fixture(scope="session")
def core_and_dump(corefile_run):
    layout, heap = core_heap(str(corefile_run.core), str(corefile_run.binary))
    ix = load_index(str(corefile_run.dump), use_cache=False)
    return layout, heap, ix


def test_core_objects_are_the_dumps_objects(corefile_run, core_and_dump):
    layout, heap, ix = core_and_dump
    real = ~np.asarray(ix.phantom, bool)
    dump = set(zip(ix.addr[real].tolist(), ix.size[real].tolist(), strict=True))
    core = set(zip(heap.addr.tolist(), heap.size.tolist(), strict=True))
    # The program allocates nothing between its dump and its core, so no difference is
    # expected: each one is listed.
    only_core = sorted(core - dump)
    only_dump = sorted(dump - core)
    assert not only_core and not only_dump, (
        f"{len(only_core)} objects only in the core, e.g. "
        f"{[(hex(a), s) for a, s in only_core[:20]]}; {len(only_dump)} only in the dump, e.g. "
        f"{[(hex(a), s) for a, s in only_dump[:20]]}")
    assert len(heap.addr) == len(core)  # no object listed twice
    assert layout.go_version == corefile_run.facts["version"]
    # The program's own objects are among them: its globals hold this many.
    held = sum(v for k, v in corefile_run.facts["counts"].items() if k != "garbage")
    assert len(core) > held
    # The phantoms the dump has are not objects of the core.
    phantoms = set(zip(ix.addr[~real].tolist(), ix.size[~real].tolist(), strict=True))
    assert not phantoms & core


def test_large_objects_and_free_slots(corefile_run, core_and_dump):
    _, heap, _ = core_and_dump
    sizes = dict(zip(heap.addr.tolist(), heap.size.tolist(), strict=True))
    huge = int(corefile_run.facts["huge"], 16)
    assert sizes.get(huge, 0) >= 3 << 20  # a 3 MiB []byte: a large object, its own span
    large = int(corefile_run.facts["larges"], 16)
    assert 40000 <= sizes.get(large, 0) < 40000 + 8192
    # Every other object was garbage before the GC: spans in use hold free slots between live
    # objects, which only the allocation bits tell apart (equal sizes, gaps of whole slots).
    gaps = np.diff(heap.addr.astype(np.int64))
    same = heap.size[1:] == heap.size[:-1]
    assert np.any(same & (gaps >= 2 * heap.size[:-1].astype(np.int64)))
    assert 0 < heap.spans_in_use <= heap.spans


def test_threads_and_mappings(corefile_run):
    with open_core(str(corefile_run.core)) as core:
        assert is_core(str(corefile_run.core))
        tids = [t.tid for t in core.threads]
        assert corefile_run.facts["pid"] in tids
        assert len(set(tids)) == len(tids)
        text = [m for m in core.mappings if m.offset == 0
                and Path(m.path).name == corefile_run.binary.name]
        assert text, core.mappings
        # Threads are parked in the runtime's own system calls: their pcs are in its code.
        assert any(text[0].start <= t.rip < text[0].end for t in core.threads)
        assert all(t.rsp and t.fs_base for t in core.threads)
        assert Path(core.command.split()[0]).name == corefile_run.binary.name


def test_program_beneath_the_core(corefile_run):
    """gcore leaves out the program's read-only data (a file-backed mapping it has not
    written, per /proc/PID/coredump_filter): the address space reads it from the program."""
    program = str(corefile_run.binary)
    segments, _ = program_segments(program)
    readonly = [s for s in segments if not s.writable and s.filesz]
    data = Path(program).read_bytes()
    with open_core(str(corefile_run.core)) as core, open_address_space(core, program) as space:
        left_out = [s for s in readonly if core.held(s.vaddr) == 0]
        assert left_out, "the core holds all of the program's read-only segments"
        for s in readonly:
            n = min(s.filesz, 1 << 16)
            assert space.read(s.vaddr, n) == data[s.offset:s.offset + n]
        s = left_out[0]
        with pytest.raises(UnmappedAddress) as e:
            core.read(s.vaddr, 8)
        one_line_error(e, corefile_run.core)
        heap = core_heap(str(corefile_run.core), program)[1]
        assert space.read(int(heap.addr[0]), 8) == core.read(int(heap.addr[0]), 8)


def one_line_error(exc: pytest.ExceptionInfo, path: Path | str) -> str:
    msg = str(exc.value)
    assert isinstance(exc.value, ValueError)
    assert "\n" not in msg and str(path) in msg, msg
    return msg


def test_truncated_core(corefile_run, tmp_path):
    cut = tmp_path / "cut.core"
    with open(corefile_run.core, "rb") as f:
        cut.write_bytes(f.read(1 << 20))
    with pytest.raises(CoreFileError) as e:
        core_heap(str(cut), str(corefile_run.binary))
    assert "truncated core" in one_line_error(e, cut)
    short = tmp_path / "short.core"
    short.write_bytes(cut.read_bytes()[:40])
    with pytest.raises(CoreFileError) as e:
        open_core(str(short))
    assert "truncated core" in one_line_error(e, short)


def test_files_that_are_not_cores(corefile_run, tmp_path):
    with pytest.raises(CoreFileError) as e:
        core_heap(str(corefile_run.binary), str(corefile_run.binary))
    assert "an ELF executable, not a core file" in one_line_error(e, corefile_run.binary)
    with pytest.raises(CoreFileError) as e:
        core_heap(str(corefile_run.dump), str(corefile_run.binary))
    assert "not an ELF file" in one_line_error(e, corefile_run.dump)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(CoreFileError) as e:
        open_core(str(empty))
    one_line_error(e, empty)
    assert not is_core(str(corefile_run.binary)) and not is_core(str(empty))


def test_core_of_another_go_program(corefile_run):
    other = build("basics", corefile_run.version)
    with pytest.raises(CoreFileError) as e:
        core_heap(str(corefile_run.core), str(other))
    assert f"not a core of {other}" in one_line_error(e, corefile_run.core)


def test_stripped_program(corefile_run):
    stripped = build("corefile", corefile_run.version, "-s -w")
    with pytest.raises(CoreFileError) as e:
        core_heap(str(corefile_run.core), str(stripped))
    assert "a stripped Go program" in one_line_error(e, stripped)


@pytest.fixture(scope="session")
def sleep_core(tmp_path_factory):
    needs_tool(GCORE, "gcore (Debian package gdb)")
    sleep = shutil.which("sleep")
    assert sleep
    return gcore_of([sleep, "100"], tmp_path_factory.mktemp("sleep") / "sleep.core"), sleep


def test_core_of_a_non_go_program(sleep_core):
    core, sleep = sleep_core
    with pytest.raises(ValueError) as e:
        core_heap(str(core), sleep)
    assert "not a Go program" in one_line_error(e, sleep)
    go_program = build("corefile", NEWEST)
    with pytest.raises(CoreFileError) as e:
        core_heap(str(core), str(go_program))
    msg = one_line_error(e, core)
    assert f"not a core of {go_program}" in msg and f"process: {sleep}" in msg


# --- Small cores made by hand ---------------------------------------------------------------

def _note(name: bytes, ntype: int, desc: bytes) -> bytes:
    def pad(b: bytes) -> bytes:
        return b + b"\0" * (-len(b) % 4)
    return struct.pack("<III", len(name) + 1, len(desc), ntype) + pad(name + b"\0") + pad(desc)


def _prstatus(tid: int, rip: int, rsp: int, rbp: int, fs_base: int) -> bytes:
    regs = [0] * 27
    regs[4], regs[16], regs[19], regs[21] = rbp, rip, rsp, fs_base
    return bytes(32) + struct.pack("<i", tid) + bytes(112 - 36) + struct.pack("<27Q", *regs) \
        + bytes(8)


def make_core(loads: list[tuple[int, bytes, int]], notes: bytes, machine: int = 62,
              ident: bytes = b"\x7fELF\x02\x01\x01") -> bytes:
    """An ELF core: ``loads`` are (address, file bytes, memory size); ``notes`` one PT_NOTE."""
    phnum = 1 + len(loads)
    at = 64 + 56 * phnum
    phdrs = struct.pack("<IIQQQQQQ", 4, 4, at, 0, 0, len(notes), 0, 1)
    body = notes
    for addr, data, memsz in loads:
        phdrs += struct.pack("<IIQQQQQQ", 1, 6, at + len(body), addr, 0, len(data), memsz, 1)
        body += data
    ehdr = struct.pack("<16sHHIQQQIHHHHHH", ident.ljust(16, b"\0"), 4, machine, 1, 0, 64, 0, 0,
                       64, 56, phnum, 64, 0, 0)
    return ehdr + phdrs + body


def test_hand_made_core(tmp_path):
    names = b"/bin/prog\0/lib/x.so\0"
    nt_file = struct.pack("<QQ", 2, 4096) + struct.pack("<QQQ", 0x400000, 0x401000, 0) \
        + struct.pack("<QQQ", 0x7000, 0x9000, 3) + names
    notes = (_note(b"CORE", 1, _prstatus(77, 0x401234, 0x7FF0, 0x7FF8, 0x9999))
             + _note(b"CORE", 0x46494C45, nt_file) + _note(b"GNU", 3, b"\xab\xcd"))
    path = tmp_path / "hand.core"
    path.write_bytes(make_core([(0x1000, b"A" * 16, 16), (0x1010, b"B" * 16, 32),
                                (0x2000, b"C" * 8, 8)], notes))
    with open_core(str(path)) as core:
        assert [(t.tid, t.rip, t.rsp, t.rbp, t.fs_base) for t in core.threads] == [
            (77, 0x401234, 0x7FF0, 0x7FF8, 0x9999)]
        assert [(m.start, m.end, m.offset, m.path) for m in core.mappings] == [
            (0x400000, 0x401000, 0, "/bin/prog"), (0x7000, 0x9000, 3 * 4096, "/lib/x.so")]
        assert core.build_id == b"\xab\xcd"
        assert core.read(0x100C, 8) == b"AAAABBBB"  # across two segments
        assert core.read(0x2000, 8) == b"C" * 8
        with pytest.raises(UnmappedAddress, match="only the first 16 bytes"):
            core.read(0x101C, 8)  # in the segment's memory, not in the file
        with pytest.raises(UnmappedAddress, match="in no segment"):
            core.read(0x3000, 1)
        with pytest.raises(CoreFileError, match="larger than the core"):
            core.read(0x1000, 1 << 40)


@pytest.mark.parametrize("change, says", [
    ({"machine": 183}, "a core file of arm64"),
    ({"ident": b"\x7fELF\x01\x01\x01"}, "32-bit ELF file"),
    ({"ident": b"\x7fELF\x02\x02\x01"}, "big-endian"),
])
def test_hand_made_cores_of_other_machines(tmp_path, change, says):
    path = tmp_path / "other.core"
    path.write_bytes(make_core([(0x1000, b"A" * 16, 16)], b"", **change))
    with pytest.raises(CoreFileError) as e:
        open_core(str(path))
    assert says in one_line_error(e, path)


def test_hand_made_corrupt_notes(tmp_path):
    bad = struct.pack("<III", 5, 1 << 30, 1) + b"CORE\0\0\0\0"
    path = tmp_path / "notes.core"
    path.write_bytes(make_core([(0x1000, b"A" * 16, 16)], bad))
    with pytest.raises(CoreFileError) as e:
        open_core(str(path))
    assert "runs past its segment's end" in one_line_error(e, path)
    lying = struct.pack("<QQ", 1 << 60, 4096)
    path.write_bytes(make_core([(0x1000, b"A" * 16, 16)], _note(b"CORE", 0x46494C45, lying)))
    with pytest.raises(CoreFileError) as e:
        open_core(str(path))
    assert "claims" in one_line_error(e, path)
