"""Retention (#8): dominator-tree answers on a Go program with known heap shapes, checked exactly
against sums of the objects' sizes as the dump records them (Go size classes)."""

from __future__ import annotations

import pytest
from clirun import run
from gotools import run_dump

from heapspurs.index.load import load_index

TOP_KEYS = {"kind", "address", "slot", "name", "symbol", "type", "size", "retained", "percent",
            "path"}


@pytest.fixture(scope="module")
def retain(go_version):
    r = run_dump("retain", go_version)
    ix = load_index(str(r.dump))

    def size(address: str) -> int:
        obj = ix.find(int(address, 16))
        assert obj >= 0, address
        return int(ix.size[obj])

    def start(address: str) -> str:
        return hex(int(ix.addr[ix.find(int(address, 16))]))

    return r, size, start


def ask(r, *args, program: bool = False):
    extra = ("--program", r.binary) if program else ()
    res = run(r.dump, *extra, *args, "--json")
    assert res.status == 0, res.err
    return res.json()


def test_slice_of_reports_retains_exactly_its_items(retain):
    r, size, start = retain
    rep = r.facts["reports"]
    want = size(rep["array"]) + sum(size(a) for a in rep["items"]) + sum(
        size(b) for b in rep["buffers"])
    got = ask(r, "--address", rep["array"], "--retained")
    assert got["retained"] == want
    assert got["dominated"] == len(rep["items"])
    assert {c["address"] for c in got["children"]} <= {start(a) for a in rep["items"]}
    # Each report retains itself and its buffer, nothing else.
    one = ask(r, "--address", rep["items"][7], "--retained")
    assert one["retained"] == size(rep["items"][7]) + size(rep["buffers"][7])


def test_tree_retains_all_its_nodes(retain):
    r, size, _ = retain
    t = r.facts["tree"]
    assert ask(r, "--address", t["root"], "--retained")["retained"] == sum(
        size(a) for a in t["nodes"])


def test_diamond_shared_object_is_dominated_by_neither_global(retain):
    r, size, start = retain
    d = r.facts["diamond"]
    for holder in ("left", "right"):
        got = ask(r, "--address", d[holder], "--retained")
        assert got["retained"] == size(d[holder]) and got["dominated"] == 0
    rows = ask(r, "--top", "100000", program=True)["rows"]
    by_symbol = {row["symbol"]: row for row in rows if row["symbol"]}
    assert by_symbol["main.left"]["retained"] == size(d["left"])
    assert by_symbol["main.right"]["retained"] == size(d["right"])
    assert by_symbol["main.tree"]["retained"] == sum(size(a) for a in r.facts["tree"]["nodes"])
    # Without symbols the BSS segment is one root: it retains the shared object too.
    seg = [row for row in ask(r, "--top", "100000")["rows"] if row["kind"] == "bss"]
    assert len(seg) == 1
    assert seg[0]["retained"] >= (size(d["left"]) + size(d["right"]) + size(d["shared"])
                                  + by_symbol["main.reports"]["retained"])


def test_top_rows_have_the_contract_keys(retain):
    r, size, start = retain
    out = ask(r, "--top", "10", program=True)
    rows = out["rows"]
    assert len(rows) == 10
    assert all(TOP_KEYS <= set(row) for row in rows)
    assert [row["retained"] for row in rows] == sorted((row["retained"] for row in rows),
                                                       reverse=True)
    top_global = rows[0]
    assert top_global["kind"] == "bss" and top_global["symbol"] == "main.reports"
    array = next(row for row in rows if row["address"] == start(r.facts["reports"]["array"]))
    assert array["path"][-1] == array["address"]
    assert array["root"]["symbol"] == "main.reports"
    assert 0 < array["percent"] < 100
    assert abs(array["percent"] - 100 * array["retained"] / out["reachable_bytes"]) < 0.01


def test_goroutine_groups_retain_their_buffers(retain):
    r, size, _ = retain
    groups = ask(r, "--goroutines")["groups"]
    for fn, count in (("main.leakyWorker", 50), ("main.otherWorker", 3)):
        (g,) = [g for g in groups if fn in g["functions"]]
        assert g["count"] == count == len(g["goroutines"])
        assert g["retained"] == sum(size(a) for a in r.facts["goroutines"][fn])
        assert g["status"] == "Waiting" and g["wait_reason"] == "chan receive"
    assert groups[0]["retained"] >= groups[-1]["retained"]


def test_suspects_find_the_accumulation_point_and_the_finalizer_cycle(retain):
    r, size, start = retain
    out = ask(r, "--suspects", program=True)
    first = out["suspects"][0]
    assert first["symbol"] == "main.reports" and first["percent"] > 50
    acc = first["accumulation"]
    assert acc["address"] == start(r.facts["reports"]["array"])
    assert acc["kinds"][0]["count"] == len(r.facts["reports"]["items"])
    cyc = r.facts["cycle"]
    (c,) = out["finalizer_cycles"]
    assert c["address"] == start(cyc["finalized"])
    assert c["objects"] == 2 and c["bytes"] == size(cyc["finalized"]) + size(cyc["partner"])
    text = run(r.dump, "--program", r.binary, "--suspects").out
    assert "BSS main.reports retains" in text and "accumulation point" in text


def test_unreachable_lists_the_garbage(retain):
    r, size, start = retain
    out = ask(r, "--unreachable")
    listed = set(out["objects"])
    assert {start(a) for a in r.facts["garbage"]} <= listed
    assert out["totals"]["objects"] == len(listed)
    assert sum(row["bytes"] for row in out["rows"]) == out["totals"]["bytes"]
    # Unreachable objects retain nothing.
    res = run(r.dump, "--address", r.facts["garbage"][0], "--retained")
    assert res.status == 1 and "unreachable" in res.err


def test_histogram_totals(retain):
    r, size, _ = retain
    out = ask(r, "--histogram")
    t = out["totals"]
    assert sum(row["count"] for row in out["rows"]) == t["objects"]
    assert sum(row["bytes"] for row in out["rows"]) == t["bytes"]
    assert t["reachable_bytes"] + ask(r, "--unreachable")["totals"]["bytes"] == t["bytes"]
    buffer_size = size(r.facts["reports"]["buffers"][0])
    buffers = [row for row in out["rows"] if row["name"] == f"size class {buffer_size} B"]
    assert buffers and buffers[0]["count"] >= len(r.facts["reports"]["buffers"])


def test_whole_heap_answers_in_text(retain):
    r, _, _ = retain
    for flag in ("--top", "--suspects", "--goroutines", "--histogram", "--unreachable"):
        args = (flag, "5") if flag == "--top" else (flag,)
        res = run(r.dump, *args)
        assert res.status == 0 and res.out.strip() and "Traceback" not in res.err
