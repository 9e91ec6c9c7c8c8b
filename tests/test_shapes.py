"""Types everywhere (#15): closures, defer and go wrappers, noscan channels and timers typed,
checked against what the shapes program knows of its own objects (reflect's types, closures'
function names from runtime.FuncForPC); what stays untyped says why."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from clirun import run
from gotools import run_dump

from heapspurs.analysis.reach import reachable_mask
from heapspurs.index.load import load_index
from heapspurs.names import dwarf_native, dwarf_reference
from heapspurs.names.dwarf_types import load_types
from heapspurs.names.typing import UNTYPED_REASONS, type_heap


def go_name(name: str) -> str:
    return re.sub(r"(?:[\w.-]+/)+(?=[\w-]+\.)", "", name)


def minor(version: str) -> int:
    return int(version.split(".")[1])


@pytest.fixture(scope="module")
def shapes(go_version):
    r = run_dump("shapes", go_version)
    ix = load_index(str(r.dump))
    pcs = ix.raw.frame_pc.astype(np.uint64) - np.uint64(1)
    return r, ix, type_heap(ix, load_types(str(r.binary), pcs))


def typed_as(r, ix, ty, kind: str) -> list[tuple[str, str | None]]:
    return [(s["type"], ty.type_name(ix.find(int(s["addr"], 16))))
            for s in r.facts["samples"] if s["type"].startswith(kind)]


def test_no_wrong_typings(shapes):
    r, ix, ty = shapes
    got = typed_as(r, ix, ty, "")
    assert not [(want, g) for want, g in got if g is not None and go_name(g) != want]


def test_objects_held_only_by_closures_and_defer_wrappers_get_their_type(shapes):
    r, ix, ty = shapes
    held = r.facts["only_via_closures"]
    # 4 closures, 2 x (3 defer wrappers + 2 deferred closures), 2 go, 2 timers' functions
    assert len(held) == 18
    types = {a: ty.type_name(ix.find(int(a, 16))) for a in held}
    assert set(types.values()) <= {"main.Tracker", "main.State"}
    assert None not in types.values()


def test_register_arguments_spilled_into_the_callers_frame_are_typed(shapes):
    # go t.Wait(...): the running Wait's receiver lives in its spill slot, in the frame of the
    # go wrapper that called it; DWARF places it at the CFA (DW_OP_call_frame_cfa).
    r, ix, ty = shapes
    held = r.facts["spilled_args"]
    assert len(held) == 2
    assert {ty.type_name(ix.find(int(a, 16))) for a in held} == {"main.Tracker"}


def test_closure_objects_are_called_by_their_function(shapes):
    r, ix, ty = shapes
    got = typed_as(r, ix, ty, "closure ")
    assert len(got) == 8
    for want, g in got:
        if want == "closure main.main.func3" and minor(r.version) < 23:
            # Three captured variables, and Go < 1.23 gives no offsets: left untyped.
            assert g is None
        else:
            assert g == want


def test_timers_only_the_runtime_holds_are_typed(shapes):
    # The timer heap points at the timer inside a time.Ticker (Go < 1.23: its field r, told
    # from a time.Timer by its period) or a runtime.timeTimer (1.23+, both kinds).
    r, ix, ty = shapes
    (ticker,) = r.facts["tickers"]
    obj = ix.find(int(ticker, 16))
    if minor(r.version) >= 23:
        # (Since 1.23 an unreferenced ticker may be collected before the dump.)
        assert obj < 0 or ty.type_name(obj) == "runtime.timeTimer"
    else:
        assert ty.type_name(obj) == "time.Ticker"



def test_noscan_channels_are_typed_by_makechan_rule(shapes):
    r, ix, ty = shapes
    got = typed_as(r, ix, ty, "hchan<")
    assert len(got) == 8
    assert all(g is not None and go_name(g) == want for want, g in got), got


def test_both_dwarf_readers_lay_out_the_same_closures(shapes):
    r, _, _ = shapes
    if not dwarf_native.available():
        pytest.skip("the native DWARF walker is not built")
    native = dwarf_native.extract(str(r.binary))
    reference = dwarf_reference.extract(str(r.binary))
    assert native.closures == reference.closures
    assert native.types == reference.types
    names = {native.types[t].name for t in native.closures.values()}
    assert "closure main.main.func1" in names
    wrapper = "closure main.deferInLoop." + ("func2" if minor(r.version) < 22 else "deferwrap1")
    assert wrapper in names


def test_paths_name_captured_variables(shapes):
    r, ix, ty = shapes
    tracker = next(s["addr"] for s in r.facts["samples"] if s["type"] == "main.Tracker")
    p = run(str(r.dump), "--program", str(r.binary), "--address", tracker, "--anchors")
    assert p.status == 0, p.err
    assert "closure main.main.func1 (16 B) .t -> " + tracker in p.out


def test_histogram_rows_name_closures_and_say_why_the_rest_is_untyped(shapes):
    r, ix, ty = shapes
    p = run(str(r.dump), "--program", str(r.binary), "--histogram", "--json", "--no-cache")
    assert p.status == 0, p.err
    rows = {row["name"]: row for row in json.loads(p.out)["rows"]}
    assert rows["closure main.main.func1"]["count"] == 4
    assert "untyped_reason" not in rows["closure main.main.func1"]
    untyped = [row for name, row in rows.items() if name.startswith(("size class", "large"))]
    assert untyped and all(row["untyped_reason"] in UNTYPED_REASONS[1:] for row in untyped)


def test_big_maps_are_typed_down_to_their_groups(shapes):
    # A 3000-entry map: Go 1.24+ keeps it as a directory of tables of groups (each typed for
    # the map's key and value in DWARF), Go 1.21 as arrays of buckets.
    r, ix, ty = shapes
    names = {ty.type_name(i) for i in np.nonzero(ty.object_type >= 0)[0].tolist()}
    if minor(r.version) >= 24:
        wanted = ["map<int,*main.Item>", "table<int,*main.Item>",
                  "*table<int,*main.Item>", "noalg.map.group[int]*main.Item"]
    else:
        wanted = ["hash<int,*main.Item>", "bucket<int,*main.Item>"]
    for want in wanted:
        assert any(n == want or n.endswith("]" + want) for n in names), want


def test_coverage(shapes):
    r, ix, ty = shapes
    reach = reachable_mask(ix)
    size = np.asarray(ix.size, np.int64)
    is_typed = ty.object_type >= 0
    objects = (is_typed & reach).sum() / reach.sum()
    nbytes = size[is_typed & reach].sum() / size[reach].sum()
    print(f"shapes {r.version}: {objects:.1%} of reachable objects, {nbytes:.1%} of bytes typed")
    assert objects >= 0.95 and nbytes >= 0.95
