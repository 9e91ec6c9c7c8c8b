"""--print and the streaming reader, checked against what the Go program itself reports."""

from __future__ import annotations

from collections import Counter

import pytest
from clirun import run, run_process

from heapspurs.format.reader import DumpReader
from heapspurs.format.records import (
    AllocSample,
    Defer,
    EndOfFile,
    Finalizer,
    Goroutine,
    Itab,
    MemProfBucket,
    MemStats,
    Object,
    OSThread,
    Panic,
    Params,
    Segment,
    StackFrame,
    TypeRecord,
)
from heapspurs.index.sizeclasses import rounded_size
from heapspurs.names.alloc_sites import bucket_site_label
from heapspurs.render.records_text import PrintNames, record_lines


def read_all(path):
    with DumpReader(path) as reader:
        records = [rec for _, rec in reader.records()]
        return records, reader


def addr(text: str) -> int:
    return int(text, 16)


@pytest.fixture(scope="module")
def basics_records(basics_run):
    records, reader = read_all(basics_run.dump)
    return basics_run, records, reader


def test_every_record_kind_is_decoded(basics_records):
    run_, records, _ = basics_records
    kinds = Counter(type(r).__name__ for r in records)
    for cls in (Params, TypeRecord, Itab, Object, Goroutine, StackFrame, OSThread, Segment,
                Finalizer, MemStats, MemProfBucket, AllocSample, Defer, Panic, EndOfFile):
        assert kinds[cls.__name__] > 0, f"no {cls.__name__} record decoded"
    assert isinstance(records[0], Params)
    assert isinstance(records[-1], EndOfFile)
    assert kinds["Params"] == 1 and kinds["MemStats"] == 1 and kinds["EndOfFile"] == 1


def test_params_match_the_program(basics_records):
    run_, records, _ = basics_records
    params = records[0]
    assert params.arch == run_.facts["goarch"]
    assert params.version == run_.facts["version"]
    assert params.ptr_size == 8 and not params.big_endian
    # The objects the program allocated lie inside the dump's heap range.
    for o in run_.facts["objects"]:
        assert params.heap_start <= addr(o["addr"]) < params.heap_end


def test_goroutines_match_the_program(basics_records):
    run_, records, _ = basics_records
    user = [g for g in records if isinstance(g, Goroutine) and not g.system]
    assert len(user) == run_.facts["num_goroutine"]
    blocked = [g for g in user if g.status == 4 and "chan receive" in g.wait_reason]
    assert len(blocked) >= run_.facts["blocked_goroutines"]
    # Frames follow their goroutine, innermost first, depth counting up from 0.
    depth_seen = []
    for r in records:
        if isinstance(r, Goroutine):
            depth_seen.append([])
        elif isinstance(r, StackFrame):
            depth_seen[-1].append(r.depth)
    for depths in depth_seen:
        assert depths == list(range(len(depths)))


def test_defer_and_panic_records(basics_records):
    run_, records, _ = basics_records
    goroutines = {g.address: g for g in records if isinstance(g, Goroutine)}
    panics = [p for p in records if isinstance(p, Panic)]
    assert addr(run_.facts["panic_arg"]) in {p.arg_data for p in panics}
    defers = [d for d in records if isinstance(d, Defer)]
    assert len(defers) >= 2
    for d in defers + panics:
        assert d.goroutine in goroutines
    # A defer's sp is the sp of one of its goroutine's frames (the function that deferred).
    frames_sp = {r.sp for r in records if isinstance(r, StackFrame)}
    assert any(d.sp in frames_sp for d in defers)


def test_objects_have_their_size_class(basics_records):
    run_, records, _ = basics_records
    objects = {o.address: o for o in records if isinstance(o, Object)}
    major_minor = tuple(int(x) for x in run_.facts["version"][2:].split(".")[:2])
    for fact in run_.facts["objects"]:
        a, size = addr(fact["addr"]), fact["size"]
        if a in objects:
            got = objects[a]
        else:  # objects with a malloc header (Go 1.22+) start 8 bytes before the pointer
            got = objects.get(a - 8)
            assert got is not None, f"{fact} not in the dump"
            assert major_minor >= (1, 22) and 512 < got.size <= 32768
            size += 8
        assert got.size == rounded_size(size), fact
        assert got.fields, f"{fact} has pointers but the dump lists none"


def test_globals_in_data_and_bss(basics_records):
    run_, records, reader = basics_records
    segs = {s.bss: s for s in records if isinstance(s, Segment)}
    for key, bss in (("bss_global", True), ("data_global", False)):
        fact = run_.facts[key]
        slot = addr(fact["slot"])
        seg = segs[bss]
        assert seg.address <= slot < seg.end, (key, hex(slot), hex(seg.address), hex(seg.end))
        off = slot - seg.address
        assert off in seg.fields, f"{key}: slot not in the segment's pointer map"
        value = reader.pointer_values(seg.contents, [off])[0]
        assert value == addr(fact["points_to"])


def test_finalizer_and_profile_records(basics_records):
    run_, records, _ = basics_records
    fins = [f for f in records if isinstance(f, Finalizer) and not f.queued]
    assert addr(run_.facts["finalizer_obj"]) in {f.object for f in fins}
    buckets = {b.address: b for b in records if isinstance(b, MemProfBucket)}
    samples = [s for s in records if isinstance(s, AllocSample)]
    assert buckets and samples
    assert all(s.bucket in buckets for s in samples)
    sampled = {s.address for s in samples}
    # MemProfileRate = 1: every object the program reports was sampled, with a main.* frame.
    for fact in run_.facts["objects"]:
        a = addr(fact["addr"])
        assert a in sampled or a - 8 in sampled, fact
    assert any(fr.function.startswith("main.") for b in buckets.values() for fr in b.frames)
    # Every itab names a type the dump describes.
    types = {t.address for t in records if isinstance(t, TypeRecord)}
    assert all(i.type_address in types for i in records if isinstance(i, Itab))


def test_print_lines(basics_run):
    res = run(basics_run.dump, "--print")
    assert res.status == 0, res.err
    lines = res.out.splitlines()
    assert lines[0].startswith("DumpParams: BigEndian=false, PointerSize=8, Heap=0x")
    assert f"GOEXPERIMENT={basics_run.facts['version']}" in lines[0]
    assert lines[-1] == "End Of File"
    heads = Counter(line.split(" ")[0].split("[")[0] for line in lines if line[0] != " ")
    for head in ("TypeDescriptor", "Itab", "Object", "Goroutine", "StackFrame", "OsThread",
                 "DataSegment", "BssSegment", "RegisteredFinalizer", "MemStats:",
                 "AllocFreeProfileRecord", "AllocStackTraceSample", "DeferRecord",
                 "PanicRecord"):
        assert heads[head] > 0, head
    fin = basics_run.facts["finalizer_obj"]
    assert any(line.startswith(f"RegisteredFinalizer @ {fin}:") for line in lines)
    # Pointer lines: the slot lies in the object above it.
    obj_line = next(i for i, line in enumerate(lines) if line.startswith("Object @")
                    and i + 1 < len(lines) and lines[i + 1].startswith("  Pointer["))
    base = int(lines[obj_line].split()[2], 16)
    size = int(lines[obj_line].split()[-2])
    slot = int(lines[obj_line + 1].split("@")[1].split()[0], 16)
    assert base <= slot < base + size
    # Profile frames are printed one per line as "function file:line".
    assert any(line.startswith("  main.") and ".go:" in line for line in lines)


def test_print_into_head_ends_quietly(basics_run):
    res = run_process(basics_run.dump, "--print", shell_pipe="head -n 3")
    assert res.status == 0
    assert res.err == ""
    assert len(res.out.splitlines()) == 3


def python_print(path) -> str:
    """The reference: every record through record_lines, allocation samples naming the site
    of their bucket (the buckets come first in the dump)."""
    sites: dict[int, str] = {}
    names = PrintNames(bucket=sites.get)
    out = []
    with DumpReader(path) as reader:
        for _, rec in reader.records():
            if isinstance(rec, MemProfBucket):
                sites[rec.address] = bucket_site_label(rec)
            out.extend(line + "\n" for line in record_lines(rec, reader.pointer_values, names))
    return "".join(out)


@pytest.mark.parametrize("program", ["basics", "leaks"])
def test_native_print_matches_the_reference(program, go_version):
    """--print goes through the C formatter; its output is the reference reader's, byte for
    byte, both into a pipe (written by C to the descriptor) and in-process."""
    from gotools import run_dump

    dump = run_dump(program, go_version).dump
    expected = python_print(dump)
    assert run(dump, "--print").out == expected
    assert run_process(dump, "--print").out == expected


def test_truncated_print_reports_like_the_reader(basics_run, tmp_path):
    data = basics_run.dump.read_bytes()
    cut = tmp_path / "cut.dump"
    cut.write_bytes(data[: len(data) * 2 // 3])
    res = run_process(cut, "--print")
    assert res.status == 2 and "truncated" in res.err and "Traceback" not in res.err
    with pytest.raises(Exception) as info:
        python_print(cut)
    assert str(info.value) in res.err
    assert res.out == python_print_prefix(cut)


def python_print_prefix(path) -> str:
    """What the reference path prints before it meets the damage."""
    out = []
    with DumpReader(path) as reader:
        try:
            for _, rec in reader.records():
                out.extend(line + "\n" for line in record_lines(rec, reader.pointer_values))
        except Exception:
            pass
    return "".join(out)
