"""A core the kernel wrote when a Go program crashed (GOTRACEBACK=crash: the runtime prints every
stack and re-raises SIGABRT) is the heap its program's dump, written just before, gives.

tests/goprogs/corecrash builds a heap held by globals, writes its dump, prints the addresses of
a few objects the globals hold and dereferences a nil pointer; coretools.crash_run takes the
kernel's core. At the core's end the crashing thread is in the runtime's signal handler on its
m's gsignal stack (runtime.raise <- dieFromSignal <- sigfwdgo <- sigtrampgo <- sigtramp),
goroutine 1's saved sched is stale (sched.sp 0: systemstack cleared it on return) and its real
context is in the kernel's signal frame (heapspurs/core/roots.py, unwind.interrupted_context).

What the crash itself changes:
  * goroutine 1's frames: the dump saw main.main calling debug.WriteHeapDump, the core sees
    main.main <- sigpanic <- gopanic <- fatalpanic <- dieFromSignal <- raise; so frame anchors
    may differ (the globals-held objects compared below have none: their anchors are equal).
  * the objects the crash allocated after the dump, in the core only (CRASH_ALLOCATED): the
    panic's message, which runtime.preprintpanics makes a string ("runtime error: " + msg, 63
    bytes -> a 64-byte object) boxed in an interface (its 16-byte string header), both held by
    goroutine 1's panic record; and on Go 1.21 a runtime._defer (80 bytes) the crash path left
    in a P's deferpoolbuf (held through runtime.allp). Nothing the dump has is missing.

The kernel leaves unmodified file-backed mappings out of a core (coredump_filter 0x33): on Go
1.27.3 the program's text segment holds only its first page (file size 0x1000 of 0x126000) and
its rodata none (0 of 0x146000), where gcore writes both. Their bytes (the function table, the
types) come from the program instead (heapspurs/core/memory.py), which the indexing below needs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from clirun import in_ci, run
from coretools import crash_run

from heapspurs.index.load import load_index

# Objects of tests/goprogs/corecrash's facts line, each held by globals only.
HELD_BY_GLOBALS = ("huge", "larges", "mids", "headers", "node")
PANIC_MESSAGE = b"runtime error: invalid memory address or nil pointer dereference"


@pytest.fixture(scope="session")
def crash(go_version):
    pattern = Path("/proc/sys/kernel/core_pattern").read_text().strip()
    if (pattern.startswith("|") or "/" in pattern) and not in_ci():
        pytest.skip(f"core_pattern {pattern!r}: the kernel writes no core in the crash's folder")
    return crash_run("corecrash", go_version)


def test_it_crashed_with_a_core(crash):
    assert crash.facts["exit"] == -6, crash.facts  # SIGABRT, after the SIGSEGV's panic
    assert crash.facts["stderr_head"].startswith("panic: " + PANIC_MESSAGE.decode())
    assert crash.core.stat().st_size > 0 and crash.facts["version"] == f"go{crash.version}"


def test_anchors_of_globals_held_objects_are_the_dumps(crash, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    for fact in HELD_BY_GLOBALS:
        answers = [run("--program", crash.binary, f, "--address", crash.facts[fact], "--anchors",
                       "--json") for f in (crash.core, crash.dump)]
        assert [a.status for a in answers] == [0, 0], [a.err for a in answers]
        core, dump = (a.json() for a in answers)
        assert core["object"] == dump["object"], fact
        # Frame anchors may differ (goroutine 1's frames changed with the crash); these objects
        # have none, and their global anchors are the dump's.
        anchors = [[x for x in d["anchors"] if x["kind"] != "frame"] for d in (core, dump)]
        assert anchors[0] == anchors[1] and anchors[0], fact
        assert all(x["kind"] in ("bss", "data") for x in anchors[0]), fact


def test_objects_are_the_dumps_but_the_crashs(crash, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    ix = load_index(str(crash.core), use_cache=False, program=str(crash.binary))
    dump = load_index(str(crash.dump), use_cache=False)
    real = ~np.asarray(dump.phantom, bool)
    core_objects = set(zip(ix.addr.tolist(), ix.size.tolist(), strict=True))
    dump_objects = set(zip(dump.addr[real].tolist(), dump.size[real].tolist(), strict=True))
    assert len(dump_objects) > 4000
    assert dump_objects <= core_objects, sorted(dump_objects - core_objects)[:10]
    extra = {size: address for address, size in core_objects - dump_objects}
    expected = {16, 64} | ({80} if crash.version.startswith("1.21.") else set())
    assert sorted(extra) == sorted(expected) and len(extra) == len(core_objects - dump_objects)
    # The panic's message and its interface box (the string header: data pointer, length).
    message = ix.contents(ix.find(extra[64]))
    assert message[:len(PANIC_MESSAGE)] == PANIC_MESSAGE
    box = ix.contents(ix.find(extra[16]))
    assert int.from_bytes(box[:8], "little") == extra[64]
    assert int.from_bytes(box[8:], "little") == len(PANIC_MESSAGE)
    anchors = run("--program", crash.binary, crash.core, "--address", hex(extra[16]), "--anchors",
                  "--json").json()["anchors"]
    assert [a["kind"] for a in anchors] == ["panic"], anchors
    if 80 in extra:  # Go 1.21: a defer record recycled into a P's pool
        d = run("--program", crash.binary, crash.core, "--address", hex(extra[80]), "--anchors",
                "--json").json()
        assert d["object"]["type"] == "runtime._defer"
        assert [a["symbol"] for a in d["anchors"]] == ["runtime.allp"], d["anchors"]
