"""Target ``dwarf``: mutated DWARF sections through the native DIE walker (_cdwarf.walk).

An input is a small container of the seven sections the walker reads, in the order of
heapspurs.names.dwarf_native.SECTIONS, and its two other arguments:

    7 x uint32 LE   section lengths (cut to what is there)
    uint32 LE       zero bytes put in front of .debug_loc and .debug_loclists (at most 4 MiB),
                    so that a seed can carry only the part of a big location section its unit
                    refers to and keep the offsets it has
    uint32 LE       the size .debug_info is padded to (at most 4 MiB) by a unit of one DIE
                    holding a block, so that references to other units (DW_FORM_ref_addr)
                    still land inside the section
    section bytes   .debug_info, .debug_abbrev, .debug_str, .debug_line_str, .debug_addr,
                    .debug_loc, .debug_loclists
    uint8           1: the pcs follow (keep only locals live at one of them); 0: keep all
    int64 LE        runtime.types (the base of DW_AT_go_runtime_type offsets), -1 for none
    uint64 LE ...   pcs (sorted by the harness, as dwarf_native sorts them)

Seeds: one compile unit each of real Go binaries (DWARF 4 with .debug_loc and DWARF 5 with
.debug_loclists), moved to offset 0 of .debug_info with the whole abbreviation table.
ValueError (corrupt DWARF, naming the offset) and NotImplementedError (DWARF left to the
reference reader) are the expected answers; only a sanitizer report, a crash or a hang is a
finding. The rows the walker returns are turned into GoTypes as dwarf_native does, so that
nonsense rows that Python cannot take are found too.
"""

from __future__ import annotations

import struct

import numpy as np

SECTIONS = (".debug_info", ".debug_abbrev", ".debug_str", ".debug_line_str", ".debug_addr",
            ".debug_loc", ".debug_loclists")
MAX_BIAS = 4 << 20
HEAD = struct.Struct("<9I")
# The padding unit's abbreviation table, put after .debug_abbrev: code 1, DW_TAG_variable, no
# children, DW_AT_const_value as DW_FORM_block4.
PAD_ABBREV = b"\x01\x34\x00\x1c\x04\x00\x00\x00"
_cdwarf = None


def setup(modules: dict) -> None:
    global _cdwarf
    _cdwarf = modules["_cdwarf"]


def pack(sections: list[bytes], bias: int = 0, pcs: list[int] | None = None,
         rt_base: int = -1, info_size: int = 0) -> bytes:
    """A container (see the module docstring)."""
    head = HEAD.pack(*(len(s) for s in sections), bias, info_size)
    tail = struct.pack("<Bq", pcs is not None, rt_base)
    if pcs:
        tail += struct.pack(f"<{len(pcs)}Q", *pcs)
    return head + b"".join(sections) + tail


def unpack(data: bytes) -> tuple:
    """(sections, rt_base, pcs) of a container; lengths are cut to the bytes present."""
    if len(data) < HEAD.size:
        data = data + bytes(HEAD.size - len(data))
    *lengths, bias, info_size = HEAD.unpack_from(data)
    pos = HEAD.size
    sections = []
    for n in lengths:
        sections.append(data[pos : pos + n])
        pos = min(pos + n, len(data))
    bias = min(bias, MAX_BIAS)
    if bias:
        sections[5] = bytes(bias) + sections[5]
        sections[6] = bytes(bias) + sections[6]
    pad = min(info_size, MAX_BIAS) - len(sections[0]) - 16
    if pad > 0:
        unit = struct.pack("<IHIBBI", 12 + pad, 4, len(sections[1]), 8, 1, pad)
        sections[0] = sections[0] + unit + bytes(pad)
        sections[1] = sections[1] + PAD_ABBREV
    rest = data[pos:]
    flag = rest[0] & 1 if rest else 0
    rt_base = struct.unpack_from("<q", rest, 1)[0] if len(rest) >= 9 else -1
    pcs = None
    if flag:
        words = rest[9:]
        pcs = np.unique(np.frombuffer(words[: len(words) // 8 * 8], np.uint64))
    return sections, rt_base, pcs


def test_one_input(data: bytes) -> None:
    sections, rt_base, pcs = unpack(data)
    try:
        out = _cdwarf.walk(*sections, rt_base, pcs)
    except (ValueError, NotImplementedError):
        return
    from heapspurs.names.dwarf_native import _go_types

    try:
        _go_types(out, 8, None)
    except (IndexError, ValueError) as e:  # rows that do not fit together: worth a look
        raise AssertionError(f"walker rows Python cannot take: {e}") from e
