"""The test programs and their dumps, checked without heapspurs: gotools.raw_records is a reader
of its own, so these tests tell a broken Go program (or cache) apart from a broken package."""

from __future__ import annotations

import bisect
import os
from collections import Counter

import pytest
from gotools import (
    DUMP_HEADER,
    NEWEST,
    DumpRun,
    build,
    go_nm,
    pointer_values,
    raw_records,
    run_dump,
)

LEAK_CASES = ["bss", "data", "frame", "defer", "interior_field", "interior_slice", "substring",
              "finalizer_cycle", "map_chain", "malloc_header", "stack_object"]


def h(x: int) -> str:
    return f"0x{x:x}"


class View:
    """A dump's records, its objects by address and who points into each object."""

    def __init__(self, run_: DumpRun):
        self.records = list(raw_records(run_.dump))
        self.params = self.records[0].f
        self.ptr = self.params["ptrsize"]
        self.big = bool(self.params["bigendian"])
        self.objects = {r.f["addr"]: r for r in self.records if r.tag == "object"}
        self.starts = sorted(self.objects)
        self.segments = {r.tag: r for r in self.records if r.tag in ("data", "bss")}
        self.frames_of: dict[int, list[str]] = {}  # goroutine -> its frames' functions
        self.refs: dict[int, list[tuple]] = {}  # object start -> who points into it
        goroutine = None
        for r in self.records:
            f = r.f
            if r.tag in ("object", "data", "bss", "stackframe"):
                values = self.words(f["contents"], f["fields"])
                for off, v in zip(f["fields"], values, strict=True):
                    if r.tag == "object":
                        who = ("object", f["addr"], off)
                    elif r.tag == "stackframe":
                        who = ("frame", f["name"], goroutine)
                    else:
                        who = (r.tag, f["addr"] + off)
                    self._add(v, who)
            if r.tag == "goroutine":
                goroutine = f["addr"]
            elif r.tag == "stackframe":
                self.frames_of.setdefault(goroutine, []).append(f["name"])
            elif r.tag in ("finalizer", "queuedfinalizer"):
                self._add(f["obj"], (r.tag,))
                self._add(f["fn"], (r.tag + "-fn",))
            elif r.tag == "defer":
                self._add(f["fn"], ("defer-fn", f["gp"]))
            elif r.tag == "panic":
                self._add(f["data"], ("panic", f["gp"]))
            elif r.tag == "otherroot":
                self._add(f["to"], ("otherroot", f["description"]))

    def words(self, contents: bytes, offsets: list[int]) -> list[int]:
        return pointer_values(contents, offsets, self.ptr, self.big)

    def find(self, addr: int) -> int | None:
        """The start of the object holding ``addr``."""
        i = bisect.bisect_right(self.starts, addr) - 1
        if i >= 0 and addr < self.starts[i] + len(self.objects[self.starts[i]].f["contents"]):
            return self.starts[i]
        return None

    def _add(self, value: int, who: tuple) -> None:
        start = self.find(value)
        if start is not None:
            self.refs.setdefault(start, []).append(who)

    def segment_word(self, tag: str, slot: int) -> int:
        """The pointer stored at ``slot`` of the data or bss segment, which must be one of the
        segment's pointer fields."""
        seg = self.segments[tag].f
        off = slot - seg["addr"]
        assert 0 <= off < len(seg["contents"]), f"{h(slot)} not in {tag}"
        assert off in seg["fields"], f"{h(slot)} not in {tag}'s pointer map"
        return self.words(seg["contents"], [off])[0]


@pytest.fixture(scope="module")
def leaks(leaks_run):
    return leaks_run, View(leaks_run)


@pytest.fixture(scope="module")
def basics(basics_run):
    return basics_run, View(basics_run)


def major_minor(version: str) -> tuple[int, int]:
    return tuple(int(x) for x in version.split(".")[:2])


@pytest.mark.parametrize("program", ["basics", "leaks", "big"])
def test_program_builds(program, go_version):
    binary = build(program, go_version)
    assert binary.is_file() and os.access(binary, os.X_OK)
    assert build(program, go_version) == binary  # cached


def test_dumps_start_with_the_header_and_facts_parse(basics_run, leaks_run):
    for run_ in (basics_run, leaks_run):
        assert run_.dump.read_bytes()[:16] == DUMP_HEADER
        assert run_.facts["version"] == f"go{run_.version}"
        assert run_.dump.with_suffix(".json").is_file()
        assert run_.dump.stat().st_size < 5 << 20  # small dumps: the suite stays fast


def test_params_record(leaks):
    run_, v = leaks
    p = v.params
    assert v.records[0].tag == "params" and v.records[-1].tag == "eof"
    assert p["arch"] == run_.facts["goarch"] and p["version"] == run_.facts["version"]
    assert p["ptrsize"] == (8 if run_.facts["goarch"] in ("amd64", "arm64") else p["ptrsize"])
    assert p["heap_start"] < p["heap_end"]


def test_leak_cases_are_heap_objects_in_the_dump(leaks):
    run_, v = leaks
    p = v.params
    assert sorted(k for k, f in run_.facts.items() if isinstance(f, dict)) == sorted(LEAK_CASES)
    for case in LEAK_CASES:
        fact = run_.facts[case]
        assert set(fact) >= {"addr", "size", "kind", "slot", "function"}, case
        assert fact["addr"].startswith("0x") and fact["addr"] == fact["addr"].lower()
        a = int(fact["addr"], 16)
        assert p["heap_start"] <= a < p["heap_end"], case
        start = v.find(a)
        assert start is not None, f"{case}: {fact['addr']} is in no object of the dump"
        # The record starts at the pointer, or 8 bytes before it (Go 1.22+ malloc header).
        assert a - start in (0, 8), case
        if a - start == 8:
            assert major_minor(run_.version) >= (1, 22) and fact["size"] > 512, case
        assert len(v.objects[start].f["contents"]) >= fact["size"] + (a - start), case
    # Objects of more than 512 bytes with pointers carry a malloc header since Go 1.22.
    a = int(run_.facts["malloc_header"]["addr"], 16)
    assert v.find(a) == (a - 8 if major_minor(run_.version) >= (1, 22) else a)


@pytest.mark.parametrize("case", ["bss", "data", "interior_field", "interior_slice", "substring",
                                  "malloc_header"])
def test_global_is_the_only_holder(leaks, case):
    run_, v = leaks
    fact = run_.facts[case]
    start = v.find(int(fact["addr"], 16))
    slot = int(fact["slot"], 16)
    tag = "data" if case == "data" else "bss"
    assert fact["kind"] == tag
    assert v.refs[start] == [(tag, slot)], f"{case}: held by {v.refs[start]}"
    held = v.segment_word(tag, slot)
    expected = int(fact.get("value", fact["addr"]), 16)
    assert held == expected
    if case == "interior_field":
        assert held == int(fact["addr"], 16) + fact["field_offset"] and fact["field_offset"] > 0


def test_data_and_bss_globals_are_where_the_linker_put_them(leaks_run):
    syms = go_nm(leaks_run.binary, leaks_run.version)
    data = (syms["runtime.data"][0], syms["runtime.edata"][0])
    bss = (syms["runtime.bss"][0], syms["runtime.ebss"][0])
    assert data[0] <= syms["main.dataHolder"][0] < data[1]
    assert bss[0] <= syms["main.bssHolder"][0] < bss[1]
    assert data[0] <= int(leaks_run.facts["data"]["slot"], 16) < data[1]


@pytest.mark.parametrize("case", ["frame", "stack_object"])
def test_frame_is_the_only_holder(leaks, case):
    run_, v = leaks
    fact = run_.facts[case]
    refs = v.refs[v.find(int(fact["addr"], 16))]
    assert [r[:2] for r in refs] == [("frame", fact["function"])], refs


def test_defer_is_the_only_holder(leaks):
    run_, v = leaks
    fact = run_.facts["defer"]
    refs = v.refs[v.find(int(fact["addr"], 16))]
    # obj <- the deferred closure <- the defer record (and the heap _defer struct behind it)
    assert len(refs) == 1 and refs[0][0] == "object", refs
    closure_refs = v.refs[refs[0][1]]
    defers = [r for r in closure_refs if r[0] == "defer-fn"]
    assert len(defers) == 1, closure_refs
    assert fact["function"] in v.frames_of[defers[0][1]]
    assert all(r[0] in ("object", "defer-fn") for r in closure_refs), closure_refs


def test_map_value_chain_leads_to_the_global(leaks):
    run_, v = leaks
    fact = run_.facts["map_chain"]
    cur = v.find(int(fact["addr"], 16))
    for _ in range(10):  # value <- buckets/groups ... <- map header <- the global
        refs = v.refs[cur]
        assert len(refs) == 1, refs
        if refs[0][0] == "bss":
            break
        assert refs[0][0] == "object"
        cur = refs[0][1]
    assert refs == [("bss", int(fact["slot"], 16))]


def test_finalizer_cycle_is_registered_and_not_queued(leaks):
    run_, v = leaks
    fact = run_.facts["finalizer_cycle"]
    a, b = (v.find(int(fact[k], 16)) for k in ("finalizer_obj", "partner"))
    assert Counter(r[0] for r in v.refs[a]) == Counter({"object": 1, "finalizer": 1})
    assert [r[:2] for r in v.refs[a] if r[0] == "object"] == [("object", b)]
    assert [r[:2] for r in v.refs[b]] == [("object", a)]
    assert not [r for r in v.records if r.tag == "queuedfinalizer" and r.f["obj"] == a]


def test_basics_has_every_kind_of_record(basics):
    run_, v = basics
    kinds = Counter(r.tag for r in v.records)
    for tag in ("params", "type", "itab", "object", "goroutine", "stackframe", "osthread",
                "data", "bss", "finalizer", "memstats", "memprof", "allocsample", "defer",
                "panic", "eof"):
        assert kinds[tag] > 0, f"no {tag} record"
    assert run_.facts["memprofile_rate"] == 1 and run_.facts["map_len"] == 100
    waiting = [g for g, fns in v.frames_of.items() if "main.waiter" in fns]
    assert len(waiting) == run_.facts["blocked_goroutines"] == 5
    user = [r for r in v.records if r.tag == "goroutine" and not r.f["system"]]
    assert len(user) == run_.facts["num_goroutine"]
    fins = {r.f["obj"] for r in v.records if r.tag == "finalizer"}
    assert int(run_.facts["finalizer_obj"], 16) in fins
    panics = {r.f["data"] for r in v.records if r.tag == "panic"}
    assert int(run_.facts["panic_arg"], 16) in panics


def test_basics_objects_and_globals(basics):
    run_, v = basics
    sampled = {r.f["addr"] for r in v.records if r.tag == "allocsample"}
    for fact in run_.facts["objects"]:
        a = int(fact["addr"], 16)
        start = v.find(a)
        assert start in (a, a - 8), fact
        assert len(v.objects[start].f["contents"]) >= fact["size"], fact
        assert v.objects[start].f["fields"], f"{fact}: no pointer fields"
        assert start in sampled or a in sampled, fact  # MemProfileRate = 1
    assert sorted(f["size"] for f in run_.facts["objects"])[-1] >= 100000
    for key, tag in (("bss_global", "bss"), ("data_global", "data")):
        fact = run_.facts[key]
        addr_, slot = int(fact["addr"], 16), int(fact["slot"], 16)
        assert addr_ <= slot < addr_ + 64
        assert v.segment_word(tag, slot) == int(fact["points_to"], 16), key


def test_big_dump(big_run):
    assert big_run.version == NEWEST and big_run.facts["n"] == 50000
    kinds = Counter(r.tag for r in raw_records(big_run.dump))
    assert kinds["object"] > 50000
    assert kinds["finalizer"] <= 5  # only the runtime's own (os.File); none of the program's


def test_run_dump_caches_by_arguments():
    small = run_dump("big", NEWEST, "1000")
    assert small.facts["n"] == 1000
    mtime = small.dump.stat().st_mtime_ns
    again = run_dump("big", NEWEST, "1000")
    assert again == small and again.dump.stat().st_mtime_ns == mtime
    assert run_dump("big", NEWEST, "2000").dump != small.dump
