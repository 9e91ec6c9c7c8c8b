"""--anchors, --owners and --hexdump on leaks whose holder the Go program itself reports."""

from __future__ import annotations

import numpy as np
import pytest
from clirun import run

from heapspurs.analysis.anchors import find_anchors
from heapspurs.index.load import load_index

GLOBAL_CASES = ["bss", "data", "interior_field", "interior_slice", "substring", "map_chain",
                "malloc_header"]
FRAME_CASES = {"frame": "frame", "defer": "defer"}


def h(x: int) -> str:
    return f"0x{x:x}"


@pytest.fixture(scope="module")
def leaks(leaks_run):
    return leaks_run, load_index(str(leaks_run.dump))


def anchors_json(run_, address: str, *extra: str) -> dict:
    res = run(run_.dump, "--address", address, "--anchors", "--json", *extra)
    assert res.status == 0, res.err
    return res.json()


@pytest.mark.parametrize("case", GLOBAL_CASES)
def test_global_holds_the_leak(leaks, case):
    run_, _ = leaks
    fact = run_.facts[case]
    out = anchors_json(run_, fact["addr"])
    precise = [a for a in out["anchors"] if not a.get("conservative")]
    assert precise, f"{case}: no anchor found"
    kinds = {(a["kind"], a["slot"]) for a in precise}
    expected_kind = "data" if case == "data" else "bss"
    assert kinds == {(expected_kind, fact["slot"])}, (case, kinds, fact)
    # The path ends at the object asked about and starts at what the slot points into.
    for a in precise:
        assert a["path"][-1] == out["object"]["address"]


def test_interior_pointer_is_what_holds_it(leaks):
    """The only reference points inside the object: ignoring interior pointers finds no root."""
    run_, ix = leaks
    for case in ("interior_field", "interior_slice", "substring"):
        fact = run_.facts[case]
        obj = ix.find(int(fact["addr"], 16))
        assert obj >= 0
        report = find_anchors(ix, obj)
        holders = [a for a in report.anchors if not a.conservative]
        assert holders
        start = int(ix.addr[obj])
        # Every root reaches it through a pointer that is not its start address.
        assert all(a.value != start or len(a.path) > 1 for a in holders), case
        direct = [a for a in holders if len(a.path) == 1]
        assert direct and all(a.value > start for a in direct), case


@pytest.mark.parametrize("case", sorted(FRAME_CASES))
def test_stack_holds_the_leak(leaks, case):
    run_, _ = leaks
    fact = run_.facts[case]
    out = anchors_json(run_, fact["addr"])
    precise = [a for a in out["anchors"] if not a.get("conservative")]
    assert precise, f"{case}: no anchor"
    assert {a["kind"] for a in precise} == {FRAME_CASES[case]}, precise
    assert {a["function"] for a in precise} == {fact["function"]}
    assert all(isinstance(a["goroutine"], int) for a in precise)


def test_finalizer_cycle(leaks):
    run_, _ = leaks
    fact = run_.facts["finalizer_cycle"]
    out = anchors_json(run_, fact["addr"])
    precise = [a for a in out["anchors"] if not a.get("conservative")]
    assert precise and {a["kind"] for a in precise} == {"finalizer"}
    assert {a["finalizer_object"] for a in precise} == {fact.get("finalizer_obj", fact["addr"])}
    text = run(run_.dump, "--address", fact["addr"], "--anchors").out
    assert "a cycle through the object with the finalizer" in text


def test_malloc_header_address_is_the_object(leaks):
    run_, ix = leaks
    fact = run_.facts["malloc_header"]
    a = int(fact["addr"], 16)
    obj = ix.find(a)
    if run_.version.startswith("1.21"):
        assert int(ix.addr[obj]) == a  # no malloc headers before Go 1.22
        return
    assert int(ix.addr[obj]) == a - 8 and ix.header[obj]
    res = run(run_.dump, "--address", fact["addr"], "--anchors")
    assert "+8 past its malloc header" in res.out
    assert "interior" not in res.out


def test_owners_one_level_and_to_the_roots(leaks):
    run_, ix = leaks
    fact = run_.facts["interior_field"]
    res = run(run_.dump, "--address", fact["addr"], "--owners", "1", "--json")
    assert res.status == 0, res.err
    owners = res.json()["owners"]
    assert [o["kind"] for o in owners] == ["bss"]
    assert owners[0]["slot"] == fact["slot"]
    assert owners[0]["offset"] == fact["field_offset"]
    assert owners[0]["owners"] == []
    # map_chain: two levels up are map internals, -1 reaches the global.
    fact = run_.facts["map_chain"]
    out = run(run_.dump, "--address", fact["addr"], "--owners", "-1", "--json").json()

    def walk(nodes):
        for n in nodes:
            yield n
            yield from walk(n["owners"])

    nodes = list(walk(out["owners"]))
    assert any(n["kind"] == "bss" and n["slot"] == fact["slot"] for n in nodes)
    assert all(n["kind"] in ("object", "bss", "data", "frame") for n in nodes)
    text = run(run_.dump, "--address", fact["addr"], "--owners", "-1").out
    assert "BssSegment @" in text and "via Pointer[" in text


def test_hexdump_of_an_object(leaks):
    run_, ix = leaks
    fact = run_.facts["bss"]
    obj = ix.find(int(fact["addr"], 16))
    res = run(run_.dump, "--address", fact["addr"], "--hexdump", "--json")
    out = res.json()
    assert bytes.fromhex(out["contents_hex"]) == ix.contents(obj)
    assert out["pointers"] == ix.pointers(obj)[0].tolist()
    text = run(run_.dump, "--address", fact["addr"], "--hexdump").out.splitlines()
    assert text[1].startswith("00000000  ")
    assert text[-1] == f"Pointer: {h(int(ix.pointers(obj)[0][-1]))}"


def test_address_in_no_object(leaks):
    run_, ix = leaks
    gap = int(ix.addr[-1] + ix.size[-1]) + 0x100000
    res = run(run_.dump, "--address", h(gap), "--anchors")
    assert res.status == 1
    assert "no object at" in res.err and "below: 0x" in res.err


def test_address_taken_local_is_found_conservatively(leaks):
    """A stack object's pointer slots are not in the frame's pointer map; --conservative scans
    every frame word and finds the slot inside it, clearly labelled."""
    run_, _ = leaks
    fact = run_.facts["stack_object"]
    out = anchors_json(run_, fact["addr"], "--conservative")
    precise = {a["slot"] for a in out["anchors"] if not a.get("conservative")}
    guesses = [a for a in out["anchors"] if a.get("conservative")]
    assert any(a["function"] == fact["function"] and a["slot"] not in precise for a in guesses)
    text = run(run_.dump, "--address", fact["addr"], "--anchors", "--conservative").out
    assert "conservative candidate(s)" in text


def test_unreachable_object_gets_reasons(leaks):
    """Objects no root reaches (allocated after the last GC, held by stack objects...) get a
    plain statement and the likely reasons instead of an empty list."""
    from heapspurs.analysis.reach import reachable_mask

    run_, ix = leaks
    lost = np.nonzero(~reachable_mask(ix) & ~ix.phantom)[0]
    assert len(lost) < 20
    if not len(lost):
        pytest.skip("every real object in this dump is reachable")
    res = run(run_.dump, "--address", h(int(ix.addr[lost[0]])), "--anchors", "--json")
    out = res.json()
    assert not [a for a in out["anchors"] if not a.get("conservative")]
    assert any("allocated after the last GC" in r for r in out["reasons"])


def test_hexdump_of_a_stack_frame(leaks):
    run_, ix = leaks
    names = [ix.frame_name(f) for f in range(len(ix.raw.frame_sp))]
    frame = names.index("main.holdInLocal")
    sp = int(ix.raw.frame_sp[frame])
    res = run(run_.dump, "--address", h(sp + 8), "--hexdump", "--json")
    assert res.status == 0, res.err
    out = res.json()
    assert out["frame"]["function"] == "main.holdInLocal"
    assert bytes.fromhex(out["contents_hex"]) == ix.frame_contents(frame)
    s, e = int(ix.raw.frame_pstart[frame]), int(ix.raw.frame_pstart[frame + 1])
    assert out["pointers"] == ix.raw.fptr_off[s:e].tolist()
    # The frame's pointer slots include the one holding the leaked object.
    leaked = int(run_.facts["frame"]["addr"], 16)
    words = {int.from_bytes(ix.frame_contents(frame)[o:o + 8], "little")
             for o in out["pointers"]}
    assert leaked in words
