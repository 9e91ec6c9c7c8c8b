"""Allocation sites (#9): the memory profiler's records inside the dump name where each object
was allocated; --base diffs two dumps by kind; --pprof writes a profile go tool pprof reads.
Checked against the functions and lines the Go program reports for its own allocations."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from clirun import run
from gotools import go_env, run_dump

from heapspurs.index.load import load_index
from heapspurs.names.alloc_sites import allocation_sites


@pytest.fixture(scope="module")
def allocs(go_version):
    return run_dump("allocs", go_version)


def site(facts_part) -> str:
    return f"{facts_part['function']} main.go:{facts_part['line']}"


def first_outside_runtime(frames):
    return next(f for f in frames if not f["function"].startswith("runtime."))


def test_sites_name_the_allocating_function_and_line(allocs):
    for kind in ("items", "buffers"):
        part = allocs.facts[kind]
        res = run(allocs.dump, "--find", re.escape(site(part)) + "$", "--json")
        assert res.status == 0, res.err
        found = res.json()["objects"]
        assert len(found) == part["count"]
        for o in found:
            f = first_outside_runtime(o["allocation"])
            assert (f["function"], f["line"]) == (part["function"], part["line"])
            assert f["file"].endswith("main.go")


def test_site_shown_with_the_object(allocs, tmp_path):
    part = allocs.facts["items"]
    addr = part["some"][0]
    res = run(allocs.dump, "--address", addr, "--anchors")
    assert res.out.splitlines()[0].endswith(f"(allocated at {site(part)})")
    obj = run(allocs.dump, "--address", addr, "--owners", "1", "--json").json()["object"]
    assert first_outside_runtime(obj["allocation"])["line"] == part["line"]
    dot = tmp_path / "g.dot"
    assert run(allocs.dump, "--address", addr, "-o", dot).status == 0
    assert f"at {site(part)}" in dot.read_text()


def test_print_names_the_site_of_each_sample(allocs, monkeypatch):
    part = allocs.facts["items"]
    native = run(allocs.dump, "--print").out
    lines = [ln for ln in native.splitlines() if ln.startswith("AllocStackTraceSample @ ")
             and ln.split()[2].rstrip(":") in part["some"]]
    assert len(lines) == len(part["some"])
    assert all(ln.endswith(f"({site(part)})") for ln in lines)
    from heapspurs.render import native_print

    monkeypatch.setattr(native_print, "AVAILABLE", False)
    assert run(allocs.dump, "--print").out == native


def test_histogram_groups_by_site(allocs):
    ix = load_index(str(allocs.dump))
    part = allocs.facts["items"]
    size = int(ix.size[ix.find(int(part["some"][0], 16))])
    rows = {r["name"]: r for r in run(allocs.dump, "--histogram", "--json").json()["rows"]}
    assert rows[site(part)]["count"] == part["count"]
    assert rows[site(part)]["bytes"] == part["count"] * size
    assert rows[site(allocs.facts["buffers"])]["count"] == allocs.facts["buffers"]["count"]


def test_stacks_count_by_the_whole_allocation_stack(allocs):
    rows = run(allocs.dump, "--histogram", "--stacks", "--json").json()["rows"]
    for kind in ("items", "buffers"):
        part = allocs.facts[kind]
        # leakItems and leakBuffers are called from main: the stack goes on into main.main.
        mine = [r for r in rows if r["name"].startswith(f"{site(part)} < main.main main.go:")]
        assert len(mine) == 1, [r["name"] for r in rows][:10]
        assert mine[0]["count"] == part["count"]
    plain = {r["name"] for r in run(allocs.dump, "--histogram", "--json").json()["rows"]}
    assert site(allocs.facts["items"]) in plain and not any(" < " in n for n in plain)


def test_base_reports_exactly_the_growth(allocs):
    grown = run_dump("allocs", allocs.version, "500")
    res = run(grown.dump, "--base", allocs.dump, "--json")
    assert res.status == 0, res.err
    rows = res.json()["rows"]
    keys = {"name", "count", "bytes", "base_count", "base_bytes", "delta_count", "delta_bytes"}
    assert all(keys <= set(r) for r in rows)
    part = grown.facts["items"]
    top = rows[0]
    assert top["name"] == site(part)
    assert top["delta_count"] == 500 and top["count"] == part["count"]
    size = top["bytes"] // top["count"]
    assert top["delta_bytes"] == 500 * size
    assert all(abs(r["delta_bytes"]) < 500 * size // 4 for r in rows[1:])
    text = run(grown.dump, "--base", allocs.dump).out
    assert "+500" in text.splitlines()[2] and site(part) in text.splitlines()[2]


def go_tool(version: str, *args: str) -> str:
    env = go_env(version)
    p = subprocess.run([str(Path(env["GOROOT"]) / "bin" / "go"), "tool", *args], env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_pprof_profile_reads_back_with_go_tool_pprof(allocs, tmp_path):
    out = tmp_path / "heap.pb.gz"
    res = run(allocs.dump, "--pprof", out)
    assert res.status == 0, res.err
    raw = go_tool(allocs.version, "pprof", "-raw", str(out))
    header = raw.index("inuse_objects/count")
    totals = [0, 0, 0]
    for line in raw[header:].splitlines()[1:]:
        m = re.match(r"\s+(\d+)\s+(\d+)\s+(\d+):", line)
        if not m:
            break
        for i in range(3):
            totals[i] += int(m.group(i + 1))
    h = run(allocs.dump, "--histogram", "--json").json()["totals"]
    assert totals[0] == h["reachable_objects"] and totals[1] == h["reachable_bytes"]
    top = go_tool(allocs.version, "pprof", "-top", "-sample_index=inuse_objects", str(out))
    assert allocs.facts["items"]["function"] in top
    assert run(allocs.dump, "--pprof", allocs.dump).status == 2  # never over the input


def test_no_samples_says_how_to_get_them(leaks_run):
    ix = load_index(str(leaks_run.dump))
    res = run(leaks_run.dump, "--histogram")
    assert res.status == 0
    has = allocation_sites(ix).any
    assert ("MemProfileRate = 1" in res.err) == (not has)  # the note iff no samples
