"""The native DWARF walker against its specification, the pyelftools reader (#14): the same
types, field layouts, globals and stack-local locations on every test binary, the same typed heap
when only the locals live in the dump's frames are read, and one clear line (exit 2) for corrupt
DWARF: a truncated .debug_info, an abbreviation code that does not exist, a DIE reference past
the section, a location list that never ends."""

from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from clirun import run_process
from elftools.elf.elffile import ELFFile
from gotools import NEWEST, run_dump

from heapspurs.index.load import load_index
from heapspurs.names import dwarf_native, dwarf_reference
from heapspurs.names.dwarf_types import load_types
from heapspurs.names.elf_binary import read_binary
from heapspurs.names.typing import type_heap

PROGRAMS = [("basics", ()), ("leaks", ()), ("names", ()), ("types", ()), ("retain", ()),
            ("allocs", ()), ("big", ("1000",))]


def test_native_walker_is_built():
    # setup.py builds it as an optional extension: CI must not quietly test the fallback only.
    assert dwarf_native.available()


@pytest.mark.parametrize("program,args", PROGRAMS, ids=[p for p, _ in PROGRAMS])
def test_native_reader_matches_reference(program, args, go_version):
    r = run_dump(program, go_version, *args)
    ref = dwarf_reference.extract(str(r.binary))
    fast = dwarf_native.extract(str(r.binary))
    # Not a comparison of two empty answers.
    assert len(ref.types) > 1000 and len(ref.globals) > 100 and len(ref.runtime) > 100
    assert len(ref.locals) > 1000
    assert fast.types == ref.types
    assert fast.globals == ref.globals
    assert fast.runtime == ref.runtime
    assert fast.locals == ref.locals

    # Reading only the locals live in the dump's frames types the heap the same way.
    ix = load_index(str(r.dump))
    pcs = ix.raw.frame_pc.astype(np.uint64) - np.uint64(1)
    live = load_types(str(r.binary), pcs, read_binary(str(r.binary)).markers["runtime.types"])
    assert 0 < len(live.locals) < len(ref.locals)
    assert all(any(lo <= pc < hi for lo, hi, _ in ranges for pc in pcs.tolist())
               for _, ranges in live.locals)
    a, b = type_heap(ix, ref), type_heap(ix, live)
    names_a = [a.type_name(i) for i in range(ix.count)]
    names_b = [b.type_name(i) for i in range(ix.count)]
    assert names_a == names_b
    assert sum(n is not None for n in names_a) > ix.count // 2


# ---- corrupt DWARF, end to end ----

def rewrite_section(src: Path, dst: Path, name: str, change) -> None:
    """Copy ``src`` to ``dst`` with section ``name``'s (decompressed) bytes replaced by
    ``change(bytes)``, compressed again in the space the section had."""
    data = bytearray(src.read_bytes())
    with open(src, "rb") as f:
        sec = ELFFile(f).get_section_by_name(name)
        old, off, size = sec.data(), sec["sh_offset"], sec["sh_size"]
        compressed = sec.compressed
    new = change(old)
    if compressed:
        ch_type, _, _, align = struct.unpack_from("<IIQQ", data, off)
        body = struct.pack("<IIQQ", ch_type, 0, len(new), align) + zlib.compress(new, 9)
    else:
        body = new
    assert len(body) <= size, "the changed section does not fit where it was"
    data[off:off + size] = body + bytes(size - len(body))
    dst.write_bytes(bytes(data))
    dst.chmod(0o755)


def first_die_of_second_unit(info: bytes) -> int:
    length = struct.unpack_from("<I", info, 0)[0]
    second = 4 + length
    version = struct.unpack_from("<H", info, second + 4)[0]
    return second + (12 if version >= 5 else 11)


def type_ref_offset(binary: Path) -> int:
    """The .debug_info offset of the value of a DW_AT_type (DW_FORM_ref_addr) attribute."""
    with open(binary, "rb") as f:
        dwarf = ELFFile(f).get_dwarf_info()
        for cu in dwarf.iter_CUs():
            for die in cu.iter_DIEs():
                attr = die.attributes.get("DW_AT_type")
                if attr is not None and attr.form == "DW_FORM_ref_addr":
                    return attr.offset
    raise AssertionError("no DW_AT_type")


def cut(data: bytes) -> bytes:
    return data[: 4 + struct.unpack_from("<I", data, 0)[0] // 2]  # inside the first unit


def bad_abbrev(data: bytes) -> bytes:
    out = bytearray(data)
    at = first_die_of_second_unit(data)
    assert out[at] < 0x7F
    out[at] = 0x7F
    return bytes(out)


def endless_lists(data: bytes) -> bytes:
    # Every byte 0x06: DW_LLE_base_address entries, one after another, and no end of list.
    return b"\x06" * len(data)


@pytest.fixture(scope="module")
def types_run():
    return run_dump("types", NEWEST)


@pytest.mark.parametrize("section,change,expect", [
    (".debug_info", cut, "unit at .debug_info offset 0 runs past the end of the section"),
    (".debug_info", bad_abbrev, "uses abbreviation code 127, which its table"),
    (".debug_loclists", endless_lists, "location list at .debug_loclists offset"),
], ids=["truncated-info", "unknown-abbrev", "endless-loclist"])
def test_corrupt_dwarf_is_one_line(types_run, tmp_path, section, change, expect):
    bad = tmp_path / "prog"
    rewrite_section(types_run.binary, bad, section, change)
    res = run_process("--program", bad, types_run.dump, "--histogram", "--no-cache")
    assert res.status == 2, res.err
    assert "Traceback" not in res.err
    lines = res.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"heapspurs: {bad}: cannot read its DWARF")
    assert expect in lines[0]


def test_reference_past_section_is_one_line(types_run, tmp_path):
    at = type_ref_offset(types_run.binary)

    def far(data: bytes) -> bytes:
        out = bytearray(data)
        out[at:at + 4] = struct.pack("<I", 0xFFFFFF00)
        return bytes(out)

    bad = tmp_path / "prog"
    rewrite_section(types_run.binary, bad, ".debug_info", far)
    res = run_process("--program", bad, types_run.dump, "--histogram", "--no-cache")
    assert res.status == 2, res.err
    assert "Traceback" not in res.err
    assert len(res.err.strip().splitlines()) == 1
    assert f"refers to offset {0xFFFFFF00}, past the end of .debug_info" in res.err


def test_zstd_sections_are_named(types_run, tmp_path):
    # objcopy comes with binutils, beside the gcc that builds the native code.
    bad = tmp_path / "prog"
    subprocess.run(["objcopy", "--compress-debug-sections=zstd", str(types_run.binary),
                    str(bad)], check=True, capture_output=True)
    res = run_process("--program", bad, types_run.dump, "--histogram", "--no-cache")
    assert res.status == 2, res.err
    assert len(res.err.strip().splitlines()) == 1
    assert ".debug_info is zstd-compressed" in res.err and "--decompress-debug-sections" in res.err


def test_without_the_walker_the_reference_answers_and_says_so(types_run, monkeypatch):
    said: list[str] = []
    fast = load_types(str(types_run.binary))
    monkeypatch.setattr(dwarf_native, "_cdwarf", None)
    slow = load_types(str(types_run.binary), warn=said.append)
    assert len(said) == 1 and "the slow way" in said[0]
    assert slow.types == fast.types and slow.globals == fast.globals
    assert slow.locals == fast.locals
