"""The command line on a core file: ``heapspurs --program BIN CORE [questions]`` answers as it
does for the same heap's dump (tests/goprogs/corefile writes its dump, then blocks; gcore takes
its core), and a core without its program, or with another program, is one line and exit 2."""

from __future__ import annotations

import pytest
from clirun import run
from coretools import core_run


@pytest.fixture
def both(corefile_run, tmp_path, monkeypatch):
    """Ask the same question of the core and of the dump (each with its program)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    r = corefile_run

    def ask(*question: str) -> tuple[dict, dict]:
        core = run("--program", r.binary, r.core, *question, "--json")
        dump = run("--program", r.binary, r.dump, *question, "--json")
        assert core.status == dump.status == 0, (core.err, dump.err)
        return core.json(), dump.json()

    return ask


def test_anchors_of_the_programs_objects_are_the_dumps(corefile_run, both):
    for fact in ("huge", "larges"):
        core, dump = both("--address", corefile_run.facts[fact], "--anchors", "--owners", "1")
        assert core == dump, fact
        assert core["anchors"], fact  # (held by a global: there is something to compare)


def test_top_retainers_are_the_dumps(both):
    core, dump = both("--top", "10")
    rows = [[(r["kind"], r["address"], r["symbol"], r["retained"]) for r in d["rows"]]
            for d in (core, dump)]
    assert rows[0] == rows[1]
    # The reachable total differs by what the dump's writer held at the time (its goroutine
    # and thread changed when the dump ended): a few hundred bytes of a multi-MiB heap.
    assert abs(core["reachable_bytes"] - dump["reachable_bytes"]) < 4096


def test_histogram_by_size_class_is_the_dumps(corefile_run, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    r = corefile_run
    core = run("--program", r.binary, r.core, "--histogram", "--json")
    dump = run(r.dump, "--histogram", "--json")
    assert core.status == dump.status == 0, core.err
    by_name = [{row["name"]: (row["count"], row["bytes"]) for row in x.json()["rows"]
                if row["name"].startswith(("size class", "large object"))} for x in (core, dump)]
    # Without the program the dump's objects count by size class; the core's, typed, mostly by
    # type: compare the totals, which must be equal (the same objects, phantoms left out).
    assert core.json()["totals"]["objects"] == dump.json()["totals"]["objects"]
    assert core.json()["totals"]["bytes"] == dump.json()["totals"]["bytes"]
    assert by_name[1], "the dump's rows are by size class"


# What tests/goprogs/corefile's main.main holds only while it writes its dump: the dump's file
# (its *os.File, the os.file behind it and the buffer of its name). The dump types them through
# main.main's frame at its debug.WriteHeapDump call; when the core is taken, main.main has closed
# the file and parked in select {}, its frame no longer holds them, and nothing else tells their
# types. (Garbage not yet collected: the core still has the objects, untyped.)
DUMP_WRITERS_OBJECTS = {"os.File", "os.file", "[...]uint8"}


def test_types_agree(both):
    core, dump = both("--histogram")
    typed = [d["totals"]["typed_bytes"] for d in (core, dump)]
    # With the dump's itabs (runtime.itabTable, heapspurs/core/itabs.py) the core types every
    # object its dump types but the dump writer's file: one of each of those types.
    rows = [{r["name"]: (r["count"], r["bytes"]) for r in d["rows"]
             if not r["name"].startswith(("size class", "large object"))} for d in (core, dump)]
    differ = {n for n in rows[0].keys() | rows[1].keys() if rows[0].get(n) != rows[1].get(n)}
    assert differ <= DUMP_WRITERS_OBJECTS, differ
    missing = 0
    for n in differ:
        (c, cb), (d, db) = rows[0].get(n, (0, 0)), rows[1][n]
        assert d - c == 1, (n, rows[0].get(n), rows[1][n])
        missing += db - cb
    assert typed[1] - typed[0] == missing and missing < 1024, (typed, missing)


def test_a_core_needs_its_program(corefile_run, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    r = run(corefile_run.core, "--top", "3")
    assert r.status == 2 and "--program" in r.err and len(r.err.strip().splitlines()) == 1
    other = core_run("corefile", "1.24.11" if corefile_run.version != "1.24.11" else "1.27.3")
    r = run("--program", other.binary, corefile_run.core, "--top", "3")
    assert r.status == 2 and len(r.err.strip().splitlines()) == 1, r.err
    assert "Traceback" not in r.err and str(corefile_run.core) in r.err


def test_base_between_a_core_and_its_dump_finds_no_growth(corefile_run, tmp_path, monkeypatch):
    """--base works on cores: the core against the dump of the same heap, counted by type,
    differs only by the dump file's own objects (open while it was written, closed since)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    r = corefile_run
    res = run("--program", r.binary, r.core, "--base", r.dump, "--json")
    assert res.status == 0, res.err
    rows = res.json()["rows"]
    assert rows and sum(row["count"] for row in rows) > 1000
    grown = [row for row in rows if row["delta_count"]]
    assert all(abs(row["delta_count"]) <= 1 for row in grown), grown
    assert len(grown) <= 3, grown


def test_pprof_of_a_core(corefile_run, tmp_path, monkeypatch):
    from test_allocations import go_tool

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    r = corefile_run
    out = tmp_path / "core.pb.gz"
    res = run("--program", r.binary, r.core, "--pprof", out)
    assert res.status == 0, res.err
    raw = go_tool(r.version, "pprof", "-raw", str(out))
    assert "inuse_objects/count" in raw
    top = go_tool(r.version, "pprof", "-top", "-sample_index=inuse_space", str(out))
    assert "main." in top or "[]uint8" in top, top[:500]


def test_print_of_a_core_says_what_to_ask_instead(corefile_run):
    r = run("--program", corefile_run.binary, corefile_run.core, "--print")
    assert r.status == 2 and "core file" in r.err and "--top" in r.err
    assert "Traceback" not in r.err
