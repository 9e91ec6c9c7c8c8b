"""Types (#7): objects typed from the binary's DWARF by propagation from globals, malloc
headers and finalizers, checked against the types the Go program reports for its own objects
(reflect), with zero wrong typings; coverage figures printed for the closing note."""

from __future__ import annotations

import re

import numpy as np
import pytest
from clirun import run
from gotools import run_dump

from heapspurs.analysis.reach import reachable_mask
from heapspurs.index.load import load_index
from heapspurs.names.dwarf_types import load_types
from heapspurs.names.typing import type_heap


def go_name(name: str) -> str:
    """reflect spells packages by name, DWARF by import path: net/http.Header -> http.Header."""
    return re.sub(r"(?:[\w.-]+/)+(?=[\w-]+\.)", "", name)


@pytest.fixture(scope="module")
def typed(go_version):
    r = run_dump("types", go_version)
    ix = load_index(str(r.dump))
    return r, ix, type_heap(ix, load_types(str(r.binary)))


def test_no_wrong_typings(typed):
    r, ix, ty = typed
    samples = r.facts["samples"]
    got = [ty.type_name(ix.find(int(s["addr"], 16))) for s in samples]
    wrong = [(s, g) for s, g in zip(samples, got, strict=True) if g and go_name(g) != s["type"]]
    assert not wrong
    assert sum(g is not None for g in got) >= 0.9 * len(samples)


def test_values_held_only_by_a_sync_map_are_typed(typed):
    # Go 1.24+ keeps sync.Map in an internal/sync.HashTrieMap, whose child pointers are
    # *node[K,V] that really point at an entry[K,V] or an indirect[K,V] (told by isEntry).
    r, ix, ty = typed
    assert len(r.facts["registered"]) == 5
    assert {ty.type_name(ix.find(int(a, 16))) for a in r.facts["registered"]} == {"main.Entry"}


def test_channel_buffers_are_arrays_of_their_element(typed):
    r, ix, ty = typed
    assert len(r.facts["chan_buffers"]) == 4
    assert {ty.type_name(ix.find(int(a, 16))) for a in r.facts["chan_buffers"]} == {
        "[4]main.Message"}


def test_static_objects_are_typed_through_the_global_pointing_at_them(typed):
    # var staticEntry = &Entry{...} is static data, not heap: what it points at gets its
    # field's type only when the static object itself is typed from *main.Entry.
    r, ix, ty = typed
    assert ix.find(int(r.facts["static_entry"], 16)) < 0  # not a heap object
    assert ty.type_name(ix.find(int(r.facts["held_by_static"], 16))) == "main.Entry"


def test_substrings_and_slices_of_the_middle_of_arrays_type_the_whole_object(go_version):
    r = run_dump("leaks", go_version)
    ix = load_index(str(r.dump))
    ty = type_heap(ix, load_types(str(r.binary)))
    sub = r.facts["substring"]
    assert int(sub["value"], 16) > int(sub["addr"], 16)  # the global points inside
    assert ty.type_name(ix.find(int(sub["addr"], 16))) == "string data"
    arr = r.facts["interior_slice"]
    assert int(arr["value"], 16) > int(arr["addr"], 16)
    obj = ix.find(int(arr["addr"], 16))
    # Without a malloc header the dump's 1000 pointer slots give the length; with one (Go
    # 1.22+) the slots run to the end of the size class and the length is left unknown.
    assert ty.type_name(obj) == ("[...]*int" if ix.header[obj] else "[1000]*int")


def test_coverage(typed):
    r, ix, ty = typed
    reach = reachable_mask(ix) & ~ix.phantom
    is_typed = ty.object_type >= 0
    size = ix.size.astype(np.int64)
    objects = (is_typed & reach).sum() / reach.sum()
    nbytes = size[is_typed & reach].sum() / size[reach].sum()
    print(f"types {r.version}: {objects:.1%} of reachable objects, {nbytes:.1%} of bytes typed; "
          f"{ty.conflicts} conflicts, {ty.rejected} rejected typings")
    assert objects >= 0.80 and nbytes >= 0.90  # the figures (#7)


def test_types_in_answers(typed):
    r, ix, ty = typed
    entry = next(s for s in r.facts["samples"] if s["type"] == "main.Entry")
    res = run(r.dump, "--program", r.binary, "--address", entry["addr"], "--anchors", "--json")
    assert res.status == 0, res.err
    assert res.json()["object"]["type"] == "main.Entry"
    text = run(r.dump, "--program", r.binary, "--address", entry["addr"], "--owners", "1").out
    assert text.startswith(f"main.Entry @ {entry['addr']} with ")
    hist = run(r.dump, "--program", r.binary, "--histogram", "--json").json()
    rows = {row["name"]: row for row in hist["rows"]}
    assert rows["main.Entry"]["count"] >= 300
    assert rows["main.Entry"]["bytes"] == rows["main.Entry"]["count"] * int(ix.size[ix.find(
        int(entry["addr"], 16))])
    assert hist["totals"]["typed_objects"] > 0
    found = run(r.dump, "--program", r.binary, "--find", r"^main\.Subscriber$", "--json").json()
    assert len(found["objects"]) == 20
    assert all(o["type"] == "main.Subscriber" for o in found["objects"])


def test_slice_backing_arrays_take_the_slice_capacity(go_version):
    r = run_dump("retain", go_version)
    ix = load_index(str(r.dump))
    ty = type_heap(ix, load_types(str(r.binary)))
    rep = r.facts["reports"]
    assert ty.type_name(ix.find(int(rep["array"], 16))) == f"[{len(rep['items'])}]*main.Report"
    assert {ty.type_name(ix.find(int(a, 16))) for a in rep["items"]} == {"main.Report"}
    assert {ty.type_name(ix.find(int(a, 16))) for a in rep["buffers"]} == {"[1000]uint8"}


def test_paths_and_graph_edges_name_fields(go_version, tmp_path):
    r = run_dump("retain", go_version)
    buf = r.facts["reports"]["buffers"][3]
    res = run(r.dump, "--program", r.binary, "--address", buf, "--anchors")
    path = next(ln for ln in res.out.splitlines() if ln.strip().startswith("path:"))
    assert f"[{len(r.facts['reports']['items'])}]*main.Report (16384 B) [3] -> " in path or (
        "*main.Report" in path and " [3] -> " in path)
    assert "main.Report (32 B) .Buf -> " in path
    dot = tmp_path / "g.dot"
    assert run(r.dump, "--program", r.binary, "--address", buf, "-o", dot).status == 0
    assert 'label=".Buf"' in dot.read_text()


def test_hexdump_prints_fields_by_name(go_version):
    r = run_dump("retain", go_version)
    item = r.facts["reports"]["items"][7]
    res = run(r.dump, "--program", r.binary, "--address", item, "--hexdump", "--json")
    fields = {f["path"]: f for f in res.json()["fields"]}
    assert fields[".ID"]["type"] == "int" and fields[".ID"]["value"] == 7
    assert fields[".Buf"]["type"] == "[]uint8"
    text = run(r.dump, "--program", r.binary, "--address", item, "--hexdump").out
    assert "+0x0 .ID int = 7" in text and "len 1000, cap 1000}" in text


def test_array_lengths_never_guessed_and_fields_group_histograms(go_version):
    r = run_dump("retain", go_version)
    ix = load_index(str(r.dump))
    ty = type_heap(ix, load_types(str(r.binary)))
    # make([]byte, n) with a run-time n, held by a frame: the length is unknown to the dump.
    for a in r.facts["goroutines"]["main.leakyWorker"]:
        assert ty.type_name(ix.find(int(a, 16))) in ("[4000]uint8", "[...]uint8", None)
    rows = {row["name"]: row for row in run(r.dump, "--program", r.binary, "--histogram",
                                            "--json").json()["rows"]}
    assert rows["[]uint8 (main.Report.Buf)"]["count"] == len(r.facts["reports"]["buffers"])


def test_the_grown_itab_table_is_typed(typed):
    # runtime.itabAdd grows the table into a noscan allocation: typed by that rule when the
    # program made enough itabs for the table to grow (the HTTP server does on Go 1.27).
    r, ix, ty = typed
    types = load_types(str(r.binary))
    address = next(a for name, a, _ in types.globals if name == "runtime.itabTable")
    rows = np.nonzero(ix.roots.slot == np.uint64(address))[0]
    if not len(rows):
        pytest.skip("the itab table did not grow: runtime.itabTable points at static data")
    obj = int(ix.roots.obj[rows[0]])
    assert ix.npointers(obj) == 0
    assert ty.type_name(obj) == "runtime.itabTableType"
