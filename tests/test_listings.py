"""Listings that stream (#14): ``--find`` (text and JSON) and ``--unreachable --json`` written
as they go by the C side, from the index arrays. Checked against what the listings program
printed (its items, their chain, its garbage) and, byte for byte, against the per-object
functions of render/objects_view.py that they replace (the path without a compiler)."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from clirun import run, run_process
from gotools import run_dump

from heapspurs.cli.commands import Options, load_index
from heapspurs.index import pages
from heapspurs.render import listing
from heapspurs.render.listing import json_document, write_listing
from heapspurs.scan.native_scan import AVAILABLE

ITEMS = 20000
GARBAGE = 12000  # more than the 10,000 addresses --unreachable --json used to stop at


def oid_file(r, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("oids") / "oid.txt"
    path.write_text("".join(f"{k} {v}\n" for k, v in r.facts["oids"].items()), "utf-8")
    return str(path)


@pytest.fixture(scope="module")
def listings(go_version, tmp_path_factory):
    r = run_dump("listings", go_version, str(ITEMS), str(GARBAGE))
    return r, oid_file(r, tmp_path_factory)


@pytest.fixture(scope="module", params=["listings", "names"])
def named_dump(request, go_version, tmp_path_factory):
    """A dump with every kind of name: object ids (one hostile), types, allocation sites."""
    r = run_dump(request.param, go_version, *((str(ITEMS), str(GARBAGE))
                                              if request.param == "listings" else ()))
    oids = oid_file(r, tmp_path_factory)
    return request.param, load_index(str(r.dump), Options(program=str(r.binary), oid=oids))


def captured(write) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        write()
    return out.getvalue()


@pytest.mark.skipif(not AVAILABLE, reason="the C extension is not built")
@pytest.mark.parametrize("mode", [listing.TEXT, listing.JSON, listing.ADDRESSES])
def test_native_listing_is_the_reference_byte_for_byte(named_dump, mode):
    """Every object of the dump, phantoms included, in chunks: the C side writes exactly what
    the per-object Python functions write."""
    program, ix = named_dump
    objs = np.arange(ix.count, dtype=np.int64)
    small = objs[: 3 * listing.CHUNK // 2] if mode == listing.JSON else objs
    native = captured(lambda: write_listing(ix, small, mode))
    python = captured(lambda: write_listing(ix, small, mode, native=False))
    assert native == python
    assert len(native.splitlines()) >= len(small)
    if mode == listing.TEXT:
        assert native.count(" [phantom]\n") == int(ix.phantom.sum())  # none before Go 1.22
        if program == "listings":  # allocation sites, pointer values named by object ids
            assert "(allocated at main.makeItems " in native and " (listings.Item)\n" in native
        else:  # globals, hostile object ids
            assert " (main." in native and "evil<script>" in native


def test_json_document_parses_with_empty_and_full_lists():
    for items in ([], ["0x1", "0x2"]):
        def write(items=items):
            sep = "\n"
            for item in items:
                print(sep + json.dumps(item), end="")
                sep = ",\n"
        text = captured(lambda: json_document({"a": 1}, "objects", write, {"truncated": False}))
        assert json.loads(text) == {"a": 1, "objects": items, "truncated": False}
    assert json.loads(captured(lambda: json_document({}, "k", lambda: None))) == {"k": []}


def find_args(r, oids, pattern: str) -> list[str]:
    return [r.dump, "--program", r.binary, "--oid", oids, "--find", pattern]


def test_find_json_is_one_document_of_the_programs_items(listings):
    """Through a pipe (the C side writes to the descriptor): one JSON document holding exactly
    the items the program made, each with its name, type, allocation site and chain."""
    r, oids = listings
    res = run_process(*find_args(r, oids, r"^listings\.Item$"), "--json")
    assert res.status == 0, res.err
    doc = json.loads(res.out)
    assert doc["pattern"] == r"^listings\.Item$"
    objs = doc["objects"]
    items = r.facts["items"]
    assert [o["address"] for o in objs] == sorted(items, key=lambda a: int(a, 16))
    by_address = {o["address"]: o for o in objs}
    for i, address in enumerate(items):
        o = by_address[address]
        assert (o["name"], o["type"], o["phantom"]) == ("listings.Item", "main.Item", False)
        assert o["allocation"][0]["function"] == "main.makeItems"
        assert o["pointer_count"] == 2
        nxt = [p for p in o["pointers"] if p["slot"] == hex(int(address, 16) + 16)]
        if i + 1 < len(items):
            assert nxt == [{"index": 0, "slot": hex(int(address, 16) + 16),
                            "value": items[i + 1], "name": "listings.Item",
                            "target": items[i + 1]}]
        else:
            assert nxt == []  # the last item's Next is nil


def test_find_names_pointer_values_with_offsets_and_escapes(listings):
    """The Odd object: a hostile name (quote, backslash, markup, non-ASCII) in JSON and in text,
    and a pointer into the second item named with its offset."""
    r, oids = listings
    hostile = r.facts["oids"][min(r.facts["oids"])[:-1] + "2"]
    res = run_process(*find_args(r, oids, "^Odd"), "--json")
    (odd,) = json.loads(res.out)["objects"]
    assert odd["address"] == r.facts["odd"] and odd["name"] == hostile
    values = {p["value"]: p for p in odd["pointers"]}
    first, second = r.facts["items"][:2]
    assert values[first]["name"] == "listings.Item"
    interior = hex(int(second, 16) + 8)
    assert values[interior]["name"] == "listings.Item+0x8" and values[interior]["target"] == second
    text = run_process(*find_args(r, oids, "^Odd")).out
    assert text.startswith(f"{hostile} @ {r.facts['odd']} with 2 pointers in ")
    assert f" = {interior} (listings.Item+0x8)\n" in text


def test_find_text_through_a_pipe_is_the_reference(listings):
    """The command's text (C writing to the pipe) equals the reference functions' text, and
    lists the same objects as its JSON."""
    r, oids = listings
    args = find_args(r, oids, r"listings\.|main\.makeItems")
    res = run_process(*args)
    assert res.status == 0, res.err
    ix = load_index(str(r.dump), Options(program=str(r.binary), oid=oids))
    heads = [line.split(" @ ")[1].split()[0] for line in res.out.splitlines()
             if not line.startswith("  ")]
    found = ix.resolve(np.array([int(a, 16) for a in heads], np.uint64)).astype(np.int64)
    assert captured(lambda: write_listing(ix, found, listing.TEXT, native=False)) == res.out
    assert heads == [o["address"] for o in run_process(*args, "--json").json()["objects"]]
    assert set(r.facts["items"]) <= set(heads)


def test_find_output_closed_early_ends_quietly(listings):
    r, oids = listings
    res = run_process(*find_args(r, oids, "."), shell_pipe="head -3")
    assert res.status == 0 and len(res.out.splitlines()) == 3 and "Traceback" not in res.err


def test_find_nothing_is_an_empty_list_and_status_1(listings):
    r, oids = listings
    res = run(*find_args(r, oids, "no-such-name"), "--json")
    assert res.status == 1 and res.json() == {"pattern": "no-such-name", "objects": []}


def test_unreachable_json_lists_every_address(listings):
    """All the garbage (more than the 10,000 addresses the list used to stop at), one document,
    through a pipe."""
    r, _ = listings
    res = run_process(r.dump, "--unreachable", "--json")
    assert res.status == 0, res.err
    doc = json.loads(res.out)
    listed = doc["objects"]
    assert set(r.facts["garbage"]) <= set(listed)
    assert len(listed) == len(set(listed)) == doc["totals"]["objects"] > 10_000
    assert doc["truncated"] is False
    assert sum(row["count"] for row in doc["rows"]) == len(listed)
    assert listed == sorted(listed, key=lambda a: int(a, 16))


def resident_file_kib() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("RssFile:"):
            return int(line.split()[1])
    pytest.skip("no RssFile in /proc/self/status")


@pytest.mark.skipif(not pages.CAN_RELEASE, reason="no madvise(MADV_DONTNEED) here")
def test_pages_behind_a_listing_are_given_back_and_read_again(tmp_path):
    """A cached (memory-mapped) array's pages behind the position are dropped and read back
    intact; an array in ordinary memory is left alone (dropping its pages would zero them)."""
    path = tmp_path / "a.npy"
    np.save(path, np.arange(8 << 20, dtype=np.uint64))  # 64 MiB
    mapped = np.load(path, mmap_mode="r")
    assert int(mapped[::512].sum()) == int(np.arange(0, 8 << 20, 512).sum())  # every page
    before = resident_file_kib()
    behind = pages.PagesBehind(mapped)
    behind.release(4 << 20)
    assert before - resident_file_kib() >= 30 << 10  # about half of the 64 MiB
    behind.release(2 << 20)  # a position never goes back
    assert (mapped[: 4 << 20] == np.arange(4 << 20, dtype=np.uint64)).all()
    plain = np.arange(1 << 20, dtype=np.uint64)
    pages.PagesBehind(plain).release(1 << 20)
    assert (plain == np.arange(1 << 20, dtype=np.uint64)).all()
