"""Names (#5): --program reads the ELF symbols of the Go program that wrote the dump, --oid names
objects by their first word, --find searches those names. Checked against what the Go program
itself printed (addresses of its globals and objects, which global holds what) and against
`go tool nm`."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET

import pytest
from clirun import run, run_process, tool_present
from gotools import build, go_nm, raw_records, run_dump

from heapspurs.index.load import load_index
from heapspurs.names.elf_binary import read_binary
from heapspurs.names.oids import read_oid_file

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "0xcaffe14e00000004"


def oid_file(run_, tmp_path, extra: str = "") -> str:
    """The OID file the program's own table describes (hex and decimal ids, a comment)."""
    path = tmp_path / "oid.txt"
    lines = ["# object ids of the names test program", ""]
    lines += [f"{oid} {name}" for oid, name in run_.facts["oids"].items()]
    path.write_text("\n".join(lines) + "\n" + extra)
    return str(path)


def h(text: str) -> int:
    return int(text, 16)


def test_symbols_match_go_tool_nm(names_run):
    """Every sized global of package main, and a sample of functions, gets the name `go tool
    nm` gives its address; an offset inside it is symbol+0xOFF."""
    binary = read_binary(str(names_run.binary))
    nm = go_nm(names_run.binary, names_run.version)
    mains = {n: a for n, (a, t) in nm.items() if n.startswith("main.") and t in "DBdb"}
    assert {"main.savedReports", "main.dataHolder", "main.bssSource",
            "main.staticBroker"} <= set(mains)
    for name, addr in mains.items():
        if name.startswith("main..") or name == "main.inittask":
            continue
        assert binary.symbol(addr) == name
    funcs = [(n, a) for n, (a, t) in nm.items() if t in "Tt" and n.startswith("main.")]
    assert funcs
    for name, addr in funcs:
        assert binary.symbol(addr) == name
        assert binary.symbol(addr + 1) == f"{name}+0x1"
    g = names_run.facts["globals"]["main.dataHolder"]
    assert binary.symbol(h(g["slot"])) == f"main.dataHolder+{g['offset']:#x}"


def test_binary_facts(names_run):
    binary = read_binary(str(names_run.binary))
    assert binary.arch == names_run.facts["goarch"]
    assert binary.go_version == names_run.facts["version"]
    assert not binary.stripped


def anchors_json(run_, address: str, *extra: str) -> dict:
    res = run(run_.dump, "--program", run_.binary, "--address", address, "--anchors", "--json",
              *extra)
    assert res.status == 0, res.err
    assert "warning" not in res.err
    return res.json()


def test_anchors_name_the_global_that_holds_the_object(names_run):
    """Each leak's data/BSS anchor names exactly the global the program says holds it."""
    g = names_run.facts["globals"]
    cases = [
        # (object, the symbol of the slot holding it, kind)
        (g["main.savedReports"]["points_to"], "main.savedReports", "bss"),
        (g["main.bssSource"]["points_to"], "main.bssSource", "bss"),
        (g["main.dataHolder"]["points_to"], f"main.dataHolder+{g['main.dataHolder']['offset']:#x}",
         "data"),
    ]
    for address, symbol, kind in cases:
        report = anchors_json(names_run, address)
        held = [a for a in report["anchors"] if a["kind"] in ("bss", "data")]
        assert (kind, symbol) in {(a["kind"], a["symbol"]) for a in held}, held
        for a in held:
            assert a["symbol"] is not None


def test_static_object_is_named_through_its_global(names_run):
    """`var staticBroker = &Broker{...}` compiles into an unnamed static object in .data; its
    pointer slot is named through the global that points at it."""
    ix = load_index(str(names_run.dump))
    binary = read_binary(str(names_run.binary))
    for which in ("main.staticBroker", "main.inlinedBroker"):
        g = names_run.facts["globals"][which]
        static = h(g["points_to"])
        assert ix.find(static) < 0  # not a heap object: global memory without a symbol
        assert any(s.address <= static < s.end for s in ix.raw.segments)
        assert binary.symbol(static) is None
        report = anchors_json(names_run, g["subs_value"])
        symbols = {a["symbol"] for a in report["anchors"] if a["kind"] in ("bss", "data")}
        assert f"{which} → (static) +{g['subs_offset']:#x}" in symbols, symbols


def test_anchors_text_says_via_which_global(names_run):
    g = names_run.facts["globals"]["main.bssSource"]
    res = run(names_run.dump, "--program", names_run.binary, "--address", g["points_to"],
              "--anchors")
    assert res.status == 0
    line = next(ln for ln in res.out.splitlines() if ln.startswith("BssSegment"))
    assert line.endswith(f"via main.bssSource ({g['addr']})")
    assert f"slot {g['addr']} (main.bssSource) = {g['points_to']}" in res.out


def test_owners_name_their_global(names_run):
    g = names_run.facts["globals"]["main.bssSource"]
    res = run(names_run.dump, "--program", names_run.binary, "--address", g["points_to"],
              "--owners", "1", "--json")
    roots = [o for o in res.json()["owners"] if o["kind"] == "bss"]
    assert [o["symbol"] for o in roots] == ["main.bssSource"]


def test_print_names_globals_and_pointer_values(names_run, tmp_path):
    """--print: BSS slots carry their global's name; pointers into named objects carry the
    object's name; objects named by the OID file are headed by the name."""
    res = run(names_run.dump, "--program", names_run.binary, "--oid",
              oid_file(names_run, tmp_path), "--print")
    assert res.status == 0, res.err
    g = names_run.facts["globals"]["main.bssSource"]
    assert f"@{g['addr']} (main.bssSource) = {g['points_to']} (main.Source)" in res.out
    inst = names_run.facts["instances"]
    for addr in inst["main.Report"]:
        assert f"main.Report @ {addr} with " in res.out
        assert f" = {addr} (main.Report)\n" in res.out
    big = h(inst["main.Big"][0])  # the Go address, past the malloc header (Go 1.22+)
    lines = [ln for ln in res.out.splitlines() if ln.startswith("main.Big @ ")]
    assert len(lines) == 1
    record = h(lines[0].split()[2])
    assert record in (big, big - 8)
    assert f"= {inst['main.Big'][0]} (main.Big)\n" in res.out  # offset 0 for Go code
    assert f"Object @ {inst['unlisted'][0]} with " in res.out


def test_print_names_finalizer_functions(names_run):
    """Finalizer records: the funcval is named by the function it runs (read from .rodata), and
    that is the function of the record's own code pointer."""
    ix = load_index(str(names_run.dump))
    binary = read_binary(str(names_run.binary))
    res = run(names_run.dump, "--program", names_run.binary, "--print")
    fins = [ln for ln in res.out.splitlines() if "Finalizer @" in ln]
    assert fins and len(fins) == len(ix.raw.finalizers)
    for f, line in zip(ix.raw.finalizers, fins, strict=True):
        fn = binary.symbols.find(f.fn_pc)
        assert fn is not None and fn[1] == 0
        assert f"FuncVal: {f.funcval:#x} ({fn[0]})," in line


def test_native_and_reference_print_agree_with_names(names_run, tmp_path, monkeypatch):
    oids = oid_file(names_run, tmp_path)
    args = (names_run.dump, "--program", names_run.binary, "--oid", oids, "--print")
    native = run(*args).out
    from heapspurs.render import native_print

    monkeypatch.setattr(native_print, "AVAILABLE", False)
    assert run(*args).out == native
    assert "(main.Report)" in native and "(main.bssSource)" in native


def test_find_returns_exactly_the_instances(names_run, tmp_path):
    oids = oid_file(names_run, tmp_path)
    inst = names_run.facts["instances"]
    res = run(names_run.dump, "--oid", oids, "--find", r"^main\.(Report|Source)$", "--json")
    assert res.status == 0, res.err
    found = res.json()["objects"]
    assert sorted(o["address"] for o in found) == sorted(inst["main.Report"] + inst["main.Source"])
    sizes = names_run.facts["sizes"]
    for o in found:
        assert o["name"] in ("main.Report", "main.Source")
        assert o["size"] >= sizes[o["name"]]
        assert isinstance(o["pointers"], list)
    sources = [o for o in found if o["name"] == "main.Source"]
    # Each Source points at a Report: the pointer carries the target's name.
    for o in sources:
        assert [p["name"] for p in o["pointers"]] == ["main.Report"]
        assert {p["value"] for p in o["pointers"]} <= set(inst["main.Report"])


def test_find_big_object_past_its_malloc_header(names_run, tmp_path):
    """The id of an object with a malloc header is its first word past the header."""
    res = run(names_run.dump, "--oid", oid_file(names_run, tmp_path), "--find", "Big", "--json")
    (big,) = res.json()["objects"]
    go_addr = names_run.facts["instances"]["main.Big"][0]
    assert go_addr in (big["address"], big.get("data_address"))


def test_find_text_and_alias(names_run, tmp_path):
    oids = oid_file(names_run, tmp_path)
    res = run(names_run.dump, "--oid", oids, "--search", "Source")
    heads = [ln for ln in res.out.splitlines() if not ln.startswith(" ")]
    assert sorted(ln.split()[2] for ln in heads) == sorted(names_run.facts["instances"]
                                                          ["main.Source"])
    assert all(ln.startswith("main.Source @ ") for ln in heads)


def test_find_nothing_and_bad_patterns(names_run, tmp_path):
    oids = oid_file(names_run, tmp_path)
    res = run(names_run.dump, "--oid", oids, "--find", "NoSuchThing")
    assert res.status == 1 and "NoSuchThing" in res.err
    res = run(names_run.dump, "--oid", oids, "--find", "main.(")
    assert res.status == 2 and "not a valid regular expression" in res.err
    assert "Traceback" not in res.err


def test_find_searches_allocation_sites_or_says_how_to_get_them(basics_run, tmp_path):
    """basics sets MemProfileRate = 1 (its facts say so) and allocates in main.main: its sites
    match; the same dump without its memory-profile records has nothing to search."""
    assert basics_run.facts["memprofile_rate"] == 1
    res = run(basics_run.dump, "--find", "main")
    assert res.status == 0 and "(allocated at main.main main.go:" in res.out, res.err
    records = list(raw_records(basics_run.dump))
    data = basics_run.dump.read_bytes()
    keep = [data[r.offset : nxt.offset] for r, nxt in zip(records, records[1:], strict=False)
            if r.tag not in ("memprof", "allocsample")]
    bare = tmp_path / "bare.dump"
    bare.write_bytes(data[: records[0].offset] + b"".join(keep) + data[records[-1].offset :])
    res = run(bare, "--find", "main")
    assert res.status == 2 and "--oid" in res.err and "MemProfileRate" in res.err


def test_unlisted_ids_stay_unnamed(names_run, tmp_path):
    res = run(names_run.dump, "--oid", oid_file(names_run, tmp_path), "--address",
              names_run.facts["instances"]["unlisted"][0], "--anchors", "--json")
    assert res.json()["object"]["name"] is None


def test_oid_names_reach_anchors_owners_and_json(names_run, tmp_path):
    oids = oid_file(names_run, tmp_path)
    inst = names_run.facts["instances"]
    report = run(names_run.dump, "--oid", oids, "--address", inst["main.Report"][0],
                 "--anchors", "--json").json()
    assert report["object"]["name"] == "main.Report"
    text = run(names_run.dump, "--oid", oids, "--address", inst["main.Report"][0],
               "--owners", "1").out
    assert text.splitlines()[0].startswith(f"main.Report @ {inst['main.Report'][0]}")
    # Source 0 points at Report 0: it shows up as a named owner.
    assert f"main.Source @ {inst['main.Source'][0]}" in text


def test_graph_labels_carry_names_escaped(names_run, tmp_path):
    """The hostile class name reaches the DOT source only as text; the owner is labelled with
    its name in green and the BSS edge with its global."""
    oids = oid_file(names_run, tmp_path)
    target = names_run.facts["instances"]["main.Report"][4]  # held by the hostile object too
    out = tmp_path / "g.dot"
    res = run(names_run.dump, "--program", names_run.binary, "--oid", oids, "--address", target,
              "-o", out)
    assert res.status == 0, res.err
    dot = out.read_text()
    # A DOT string: the quote and the backslash escaped (else Graphviz reads \N as the node id).
    assert 'evil<script>alert(\\"x\\")</script>&\'\\\\N' in dot
    assert 'taillabel="main.savedReports"' in dot
    assert "darkgreen" in dot
    if tool_present(shutil.which("dot"), "Graphviz (dot)"):
        svg = tmp_path / "g.svg"
        assert run(names_run.dump, "--program", names_run.binary, "--oid", oids, "--address",
                   target, "-o", svg).status == 0
        text = svg.read_text()
        assert "<script>" not in text
        # Valid XML whose text shows the name exactly as the OID file spells it.
        texts = ["".join(t.itertext()) for t in ET.fromstring(text).iter(SVG + "text")]
        assert names_run.facts["oids"][HOSTILE] + " (16 B)" in texts


def test_stripped_binary_warns(names_run):
    stripped = build("names", names_run.version, ldflags="-s -w")
    g = names_run.facts["globals"]["main.bssSource"]
    res = run(names_run.dump, "--program", stripped, "--address", g["points_to"], "--anchors",
              "--json")
    assert res.status == 0
    assert "no symbol table" in res.err and "stripped" in res.err
    assert all(a["symbol"] is None for a in res.json()["anchors"])


def test_other_programs_binary_warns_or_fails_with_strict(names_run):
    other = run_dump("leaks", names_run.version).binary
    g = names_run.facts["globals"]["main.bssSource"]
    args = (names_run.dump, "--program", other, "--address", g["points_to"], "--anchors")
    res = run(*args)
    assert res.status == 0
    assert "does not look like the program that wrote this dump" in res.err
    assert "segment" in res.err
    res = run(*args, "--strict")
    assert res.status == 2 and "does not look like" in res.err and not res.out


def test_binary_of_another_go_release_warns(names_run):
    from gotools import GO_VERSIONS

    others = [v for v in GO_VERSIONS if v != names_run.version]
    if not others:
        pytest.skip("needs two Go releases")
    other = build("names", others[0])
    res = run(names_run.dump, "--program", other, "--print")
    assert f"built by go{others[0]}, the dump written by go{names_run.version}" in res.err


@pytest.mark.parametrize("cut", [16, 64, 0.5, 0.9])
def test_truncated_or_foreign_binary_is_a_clear_error(names_run, tmp_path, cut):
    data = names_run.binary.read_bytes()
    bad = tmp_path / "broken"
    bad.write_bytes(data[: int(len(data) * cut) if cut < 1 else cut])
    res = run_process(names_run.dump, "--program", bad, "--print")
    assert res.status == 2, res.err
    assert str(bad) in res.err and "Traceback" not in res.err
    assert len(res.err.strip().splitlines()) == 1


def test_not_an_elf_file(names_run):
    res = run_process(names_run.dump, "--program", names_run.dump.with_suffix(".json"),
                      "--print")
    assert res.status == 2 and "not an ELF file" in res.err


def test_oid_file_errors_name_the_line(names_run, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("# fine\n0x1 main.A\n\nnot-a-number main.B\n")
    res = run(names_run.dump, "--oid", bad, "--find", "A")
    assert res.status == 2 and f"{bad}:4:" in res.err
    bad.write_text("0x1\n")
    assert f"{bad}:1:" in run(names_run.dump, "--oid", bad, "--find", "A").err
    bad.write_bytes(b"0x1 main.A\n0x2 \xff\xfe\n")
    res = run(names_run.dump, "--oid", bad, "--find", "A")
    assert res.status == 2 and f"{bad}:2: not UTF-8" in res.err


def test_oid_file_syntax(tmp_path):
    f = tmp_path / "oid.txt"
    f.write_text("  # comment\n0xCAFFE14E00000016 pion.webrtcSource\n17 main.Seventeen  \n"
                 "0x2 name with spaces\n")
    assert read_oid_file(str(f)) == {0xCAFFE14E00000016: "pion.webrtcSource",
                                     17: "main.Seventeen", 2: "name with spaces"}


def test_outputs_never_overwrite_the_binary_or_the_oid_file(names_run, tmp_path):
    binary = tmp_path / "server"
    binary.write_bytes(names_run.binary.read_bytes())
    oids = oid_file(names_run, tmp_path)
    target = names_run.facts["instances"]["main.Report"][0]
    before = binary.read_bytes()
    for out in (binary, oids):
        res = run(names_run.dump, "--program", binary, "--oid", oids, "--address", target,
                  "-o", out)
        assert res.status == 2 and "input file" in res.err
        res = run(names_run.dump, "--program", binary, "--oid", oids, "--pprof", out)
        assert res.status == 2 and "input file" in res.err
    assert binary.read_bytes() == before
