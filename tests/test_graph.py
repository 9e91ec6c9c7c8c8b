"""The keep-alive graph: DOT read back against the index, styles, escaping, file handling."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from clirun import run

from heapspurs.analysis.keepalive import keepalive_graph
from heapspurs.index.load import load_index
from heapspurs.render.graph_view import dot_string


@pytest.fixture(scope="module")
def leaks(leaks_run):
    return leaks_run, load_index(str(leaks_run.dump))


def node_attrs(dot: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r"^  (o\d+) \[(.*)\];$", dot, re.M)}


def test_graph_edges_are_the_owners(leaks, tmp_path):
    run_, ix = leaks
    fact = run_.facts["map_chain"]
    out = tmp_path / "g.dot"
    res = run(run_.dump, "--address", fact["addr"], "-o", out)
    assert res.status == 0, res.err
    assert "Rendering graph (" in res.out
    dot = out.read_text()
    nodes = node_attrs(dot)
    obj = ix.find(int(fact["addr"], 16))
    assert 'fillcolor="yellow"' in nodes[f"o{obj}"]
    edges = re.findall(r"^  (o\d+) -> (o\d+)", dot, re.M)
    # Every object edge is a real pointer, and every drawn owner of an object is drawn.
    for u, v in edges:
        src, dst = int(u[1:]), int(v[1:])
        assert dst in ix.pdst[ix.pstart[src]:ix.pstart[src + 1]].tolist()
    drawn = {int(n[1:]) for n in nodes}
    for n in drawn:
        owners = set(ix.owners_of(n)[0].tolist()) & drawn
        assert owners <= {int(u[1:]) for u, v in edges if int(v[1:]) == n}
    # The global holding the map is drawn as a BSS double octagon with the slot as tail label.
    assert "doubleoctagon" in dot and f'taillabel="{fact["slot"]}"' in dot


def test_interior_edge_is_red_with_offset(leaks, tmp_path):
    run_, _ = leaks
    fact = run_.facts["interior_field"]
    out = tmp_path / "g.dot"
    run(run_.dump, "--address", fact["addr"], "-o", out)
    assert f'(offset = {fact["field_offset"]})' in out.read_text()
    assert 'color="red"' in out.read_text()


def test_finalizer_cycle_is_highlighted(leaks, tmp_path):
    run_, ix = leaks
    fact = run_.facts["finalizer_cycle"]
    out = tmp_path / "g.dot"
    run(run_.dump, "--address", fact["partner"], "-o", out)
    dot = out.read_text()
    fin = ix.find(int(fact["finalizer_obj"], 16))
    assert 'penwidth="4"' in node_attrs(dot)[f"o{fin}"]
    assert re.search(rf"o{fin} -> o\d+ \[.*penwidth=\"3\"", dot)


def test_svg_is_written_and_is_valid_xml(leaks, tmp_path):
    run_, ix = leaks
    fact = run_.facts["bss"]
    out = tmp_path / "heapdump.svg"
    res = run(run_.dump, "--address", fact["addr"], "-o", out)
    assert res.status == 0, res.err
    root = ET.parse(out).getroot()
    ns = {"svg": "http://www.w3.org/2000/svg"}
    nodes = root.findall(".//svg:g[@class='node']", ns)
    g = keepalive_graph(ix, ix.find(int(fact["addr"], 16)))
    roots = {(a.kind, a.ref) for a in g.anchors if a.kind != "finalizer"}
    assert len(nodes) == len(g.nodes) + len(roots)


def test_node_budget_keeps_shortest_paths(big_run, tmp_path):
    """The root record of the big heap is owned (through Parent) by every other record."""
    out = tmp_path / "g.svg"
    res = run(big_run.dump, "--address", big_run.facts["first_record"], "-o", out)
    assert res.status == 0, res.err
    text = out.read_text()
    left = int(re.search(r"(\d+) owners left out: over the 200&#45;node budget", text).group(1))
    assert left > 1000
    nodes = int(re.search(r"Rendering graph \((\d+) nodes\)", res.out).group(1))
    assert nodes <= 200


def test_labels_are_escaped():
    nasty = 'a"b\\c<script>&\n'
    quoted = dot_string(nasty)
    assert quoted == '"a\\"b\\\\c<script>&\\n"'


def test_output_never_overwrites_the_dump(leaks):
    run_, _ = leaks
    res = run(run_.dump, "--address", run_.facts["bss"]["addr"], "-o", run_.dump)
    assert res.status == 2 and "input file" in res.err
    res = run(run_.dump, "--address", run_.facts["bss"]["addr"], "-o", "x.jpeg")
    assert res.status == 2 and "format" in res.err


def test_output_into_a_missing_folder_is_a_clear_error(leaks, tmp_path):
    from clirun import run_process

    run_, _ = leaks
    out = tmp_path / "no" / "such" / "g.svg"
    res = run_process(run_.dump, "--address", run_.facts["bss"]["addr"], "-o", out)
    assert res.status == 2 and "does not exist" in res.err and "Traceback" not in res.err
    assert len(res.err.strip().splitlines()) == 1
    res = run_process(run_.dump, "--address", run_.facts["bss"]["addr"], "-o", tmp_path)
    assert res.status == 2 and "Traceback" not in res.err


def test_without_graphviz_the_dot_file_is_written_and_status_is_3(leaks, tmp_path):
    import os
    import sys

    from clirun import run_process

    run_, _ = leaks
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python").symlink_to(sys.executable)  # a PATH with python but without dot
    out = tmp_path / "g.svg"
    env_path = os.environ["PATH"]
    os.environ["PATH"] = str(bindir)
    try:
        res = run_process(run_.dump, "--address", run_.facts["bss"]["addr"], "-o", out)
    finally:
        os.environ["PATH"] = env_path
    assert res.status == 3, res.err
    assert "Graphviz" in res.err and "apt-get install graphviz" in res.err
    assert not out.exists()
    assert (tmp_path / "g.dot").read_text().startswith("digraph heapspurs {")
