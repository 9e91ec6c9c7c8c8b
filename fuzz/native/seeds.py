"""Seeds and dictionaries for the native targets, written under .fuzz/ (not in git).

- dump: real heap dumps of the test programs (tests/goprogs, built and run by tests/gotools.py
  with the newest Go and the oldest the tests use), cut to their first few hundred objects as
  fuzz.seeds does, without the header.
- arrays: a few byte strings (the target reads its arrays from any bytes).
- dwarf: single compile units of the test programs' binaries (see fuzz.native.dwarf).

The dictionaries give libFuzzer the words of each format: record tags, field kinds and common
varints of the dump; forms, tags, location operators and list entry kinds of DWARF.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from fuzz.native.dwarf import SECTIONS, pack

ROOT = Path(__file__).resolve().parents[2]
FUZZ = ROOT / ".fuzz"
PROGRAMS = ("basics", "leaks", "names", "listings", "allocs")
VERSIONS = ("1.27.3", "1.21.13")
MAX_UNIT = 48 << 10
UNITS_PER_BINARY = 40


def _write(folder: Path, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


def _gotools():
    sys.path.insert(0, str(ROOT / "tests"))
    import gotools

    return gotools


def dump_seeds(out: Path) -> int:
    from fuzz.seeds import small_dump

    gt = _gotools()
    count = 0
    for version in VERSIONS:
        for program in PROGRAMS:
            try:
                run = gt.run_dump(program, version)
            except Exception as e:  # noqa: BLE001 - a program that does not build: fewer seeds
                print(f"seeds: {program} {version}: {e}", file=sys.stderr)
                continue
            for objects in (40, 300):
                _write(out, small_dump(run.dump, objects)[16:])
                count += 1
    return count


def _units(info: bytes):
    """(offset, bytes) of each unit of .debug_info."""
    off = 0
    while off + 11 <= len(info):
        n = int.from_bytes(info[off : off + 4], "little")
        size = 4 + n if n < 0xFFFFFFF0 else 12 + int.from_bytes(info[off + 4 : off + 12], "little")
        yield off, info[off : off + size]
        off += size


def _loc_refs(dwarf, cu) -> tuple[list[int], int | None]:
    """Offsets of the location lists the unit's DIEs refer to, and its low pc."""
    refs = []
    for die in cu.iter_DIEs():
        at = die.attributes.get("DW_AT_location")
        if at is not None and at.form == "DW_FORM_sec_offset":
            refs.append(at.value)
    top = cu.get_top_DIE().attributes.get("DW_AT_low_pc")
    return refs, top.value if top is not None else None


def dwarf_seeds(out: Path) -> int:
    from elftools.elf.elffile import ELFFile

    gt = _gotools()
    count = 0
    for version in VERSIONS:
        for program in PROGRAMS[:3]:
            try:
                binary = gt.build(program, version)
            except Exception as e:  # noqa: BLE001
                print(f"seeds: {program} {version}: {e}", file=sys.stderr)
                continue
            with open(binary, "rb") as f:
                elf = ELFFile(f)
                secs = {}
                for name in SECTIONS:
                    s = elf.get_section_by_name(name)
                    secs[name] = s.data() if s is not None else b""
                dwarf = elf.get_dwarf_info()
                cus = {cu.cu_offset: cu for cu in dwarf.iter_CUs()}
            info = secs[".debug_info"]
            small = [(o, u) for o, u in _units(info) if len(u) <= MAX_UNIT]
            step = max(1, len(small) // UNITS_PER_BINARY)
            for k, (off, unit) in enumerate(small[::step][:UNITS_PER_BINARY]):
                refs, low = _loc_refs(dwarf, cus[off]) if off in cus else ([], None)
                loc_name = ".debug_loclists" if secs[".debug_loclists"] else ".debug_loc"
                loc = secs[loc_name]
                bias = 0
                part = b""
                if refs:
                    bias = min(refs)
                    part = loc[bias : max(refs) + 4096]
                    if len(part) > MAX_UNIT:
                        continue
                sections = [unit, secs[".debug_abbrev"], _small(secs[".debug_str"]),
                            _small(secs[".debug_line_str"]), _small(secs[".debug_addr"]),
                            part if loc_name == ".debug_loc" else b"",
                            part if loc_name == ".debug_loclists" else b""]
                pcs = [low + 16 * i for i in range(32)] if (k % 2 and low) else None
                _write(out, pack(sections, bias, pcs, 0x400000 if k % 3 else -1,
                                 len(info) if len(info) <= 4 << 20 else 0))
                count += 1
    return count


def _small(section: bytes) -> bytes:
    return section if len(section) <= MAX_UNIT else b""


def array_seeds(out: Path) -> int:
    for k in range(8):
        _write(out, bytes([k]) + bytes(range(k, 255)) * 2)
    return 8


DUMP_WORDS = [bytes([t]) for t in range(18)] + [
    b"\x01\x00", b"\x01\x08", b"\x01\x10", b"\x00", b"\x80\x01", b"\xff\x7f", b"\x80\x80\x01",
    b"\xff\xff\xff\xff\x0f", b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
    b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", b"\x00\x00\x00\xc0\x00\x00\x00\x00",
    b"\x06\x00\x08", b"\x06\x01\x04", b"go1.7 heap dump\n",
]
DWARF_WORDS = [
    b"\x05\x00\x01\x08", b"\x04\x00", b"\x02\x00", b"\xff\xff\xff\xff", b"\x91", b"\x93",
    b"\x03", b"\x50", b"\x6f", b"\x00\x00", b"\x11\x01", b"\x13\x01", b"\x0d\x00", b"\x21\x00",
    b"\x34\x00", b"\x05\x00", b"\x0f\x00", b"\x16\x00", b"\x01\x01", b"\x49\x13", b"\x03\x08",
    b"\x02\x17", b"\x02\x18", b"\x0b\x0b", b"\x38\x0b", b"\x37\x0b", b"\x73\x17", b"\x00\x29",
    b"\x04\x29", b"\x02\x29", b"\x16", b"\x1a", b"\x1b", b"\x22", b"\x25", b"\x1e", b"\x20",
    b"\x21", b"\x10", b"\xff\xff\xff\xff\xff\xff\xff\xff", b"\x80\x80\x80\x80\x10",
] + [bytes([k]) for k in range(9)]


def dictionary(words: list[bytes], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ['"' + "".join(f"\\x{b:02x}" for b in w) + '"' for w in words]
    path.write_text("\n".join(lines) + "\n")


def build(target: str) -> Path:
    """Seeds of ``target`` under .fuzz/seeds/<target> (once), with its dictionary."""
    out = FUZZ / "seeds" / target
    words = {"dump": DUMP_WORDS, "dwarf": DWARF_WORDS, "arrays": DUMP_WORDS[:18]}[target]
    dictionary(words, FUZZ / "dict" / f"{target}.dict")
    if out.is_dir() and any(out.iterdir()):
        return out
    n = {"dump": dump_seeds, "dwarf": dwarf_seeds, "arrays": array_seeds}[target](out)
    print(f"seeds: {n} for {target} in {out}", file=sys.stderr)
    return out
