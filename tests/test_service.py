"""Real-size inputs (#14): the service-sized program (tests/goprogs/service: much of the
standard library linked in, packages of GOROOT parsed and type-checked, HTTP servers with
requests in flight) answers like the small ones; and the typing pass, worked through in pieces
of a few objects and pointer slots at a time, gives exactly the typing of one pass over each
frontier (what keeps its memory bounded on big heaps must not change what it finds)."""

from __future__ import annotations

import numpy as np
import pytest
from clirun import run
from gotools import run_dump
from test_types import go_name

from heapspurs.index.load import load_index
from heapspurs.names.dwarf_types import load_types
from heapspurs.names.typing import type_heap


@pytest.fixture(scope="module")
def service(go_version):
    r = run_dump("service", go_version)
    ix = load_index(str(r.dump))
    return r, ix, load_types(str(r.binary))


def test_service_sized_binary_and_dump(service):
    r, ix, _ = service
    assert r.binary.stat().st_size > 15_000_000  # the standard library it links is kept
    assert 8_000_000 < r.dump.stat().st_size < 30_000_000
    assert r.facts["in_flight"] == 16 and r.facts["packages"] >= 1


def test_a_parsed_file_is_anchored_by_its_global(service):
    r, _, _ = service
    res = run(r.dump, "--program", r.binary, "--address", r.facts["first_file"], "--anchors",
              "--json")
    assert res.status == 0, res.err
    answer = res.json()
    assert answer["object"]["type"] == "go/ast.File"
    direct = [a for a in answer["anchors"] if a["symbol"] == r.facts["first_file_global"]]
    assert direct and direct[0]["kind"] == "bss"
    assert direct[0]["path"] == [r.facts["first_file"]]


def test_samples_typed_as_the_program_says(service):
    r, ix, types = service
    ty = type_heap(ix, types)
    samples = r.facts["samples"]
    got = [ty.type_name(ix.find(int(s["addr"], 16))) for s in samples]
    wrong = [(s, g) for s, g in zip(samples, got, strict=True) if g and go_name(g) != s["type"]]
    assert not wrong
    assert sum(g is not None for g in got) >= 0.9 * len(samples)


def same_typing(a, b) -> None:
    for k in ("object_type", "elem", "via"):
        assert np.array_equal(getattr(a, k), getattr(b, k)), k
    assert (a.names, a.via_names, a.conflicts, a.rejected) == (
        b.names, b.via_names, b.conflicts, b.rejected)


@pytest.mark.parametrize("program, budget", [("types", 3), ("retain", 5), ("allocs", 2)])
def test_typing_in_small_pieces_is_the_same(go_version, program, budget):
    r = run_dump(program, go_version)
    ix = load_index(str(r.dump))
    types = load_types(str(r.binary))
    whole = type_heap(ix, types)
    assert (whole.object_type >= 0).sum() > 0.5 * ix.count
    same_typing(type_heap(ix, types, budget=budget), whole)


def test_service_typing_in_small_pieces_is_the_same(service):
    _, ix, types = service
    same_typing(type_heap(ix, types, budget=97), type_heap(ix, types))
