"""The ``--program`` binary: its ELF symbol table (data objects and functions), its allocated
sections, its architecture and the Go version in its build info, read with pyelftools (no Go
toolchain needed). Every length and offset is checked against the file before it is read."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field

import numpy as np
from elftools.common.exceptions import ELFError
from elftools.construct.core import ConstructError
from elftools.elf.elffile import ELFFile

from heapspurs.names.errors import BinaryError
from heapspurs.names.leb128 import uleb128
from heapspurs.names.table import NameTable

STT_OBJECT, STT_FUNC = 1, 2
SHF_ALLOC = 2
BUILDINFO_MAGIC = b"\xff Go buildinf:"
# The symbols the Go linker puts at the bounds of each segment of global variables.
MARKERS = ("runtime.data", "runtime.edata", "runtime.bss", "runtime.ebss", "runtime.noptrdata",
           "runtime.enoptrdata", "runtime.noptrbss", "runtime.enoptrbss", "runtime.types")

# ELF machine -> GOARCH (ppc64/mips spelled by byte order and class below).
_MACHINES = {"EM_X86_64": "amd64", "EM_386": "386", "EM_AARCH64": "arm64", "EM_ARM": "arm",
             "EM_RISCV": "riscv64", "EM_S390": "s390x", "EM_LOONGARCH": "loong64",
             "EM_PPC64": "ppc64", "EM_MIPS": "mips"}


@dataclass
class Binary:
    path: str
    arch: str | None  # as GOARCH spells it
    ptr_size: int
    big_endian: bool
    go_version: str | None  # e.g. "go1.27.3", from .go.buildinfo
    sections: dict[str, tuple[int, int]]  # allocated sections: name -> [start, end)
    symbols: NameTable  # data objects and functions with a size
    markers: dict[str, int] = field(default_factory=dict)  # runtime.data etc.
    # Sections whose bytes are in the file: (address, end, file offset).
    file_ranges: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def stripped(self) -> bool:
        return len(self.symbols) == 0

    def read(self, address: int, size: int) -> bytes | None:
        """``size`` bytes of the program's initial memory at ``address`` (None: not in a section
        stored in the file, e.g. .bss)."""
        for start, end, offset in self.file_ranges:
            if start <= address and address + size <= end:
                with open(self.path, "rb") as f:
                    f.seek(offset + address - start)
                    data = f.read(size)
                return data if len(data) == size else None
        return None

    def read_pointer(self, address: int) -> int | None:
        data = self.read(address, self.ptr_size)
        if data is None:
            return None
        return int.from_bytes(data, "big" if self.big_endian else "little")

    def symbol(self, address: int) -> str | None:
        """``name`` or ``name+0xOFF`` of the symbol containing ``address``."""
        return self.symbols.label(address)


def _goarch(machine: str, ptr_size: int, big_endian: bool) -> str | None:
    arch = _MACHINES.get(machine)
    if arch == "ppc64" and not big_endian:
        return "ppc64le"
    if arch == "mips":
        return ("mips64" if ptr_size == 8 else "mips") + ("" if big_endian else "le")
    if arch == "riscv64" and ptr_size == 4:
        return None
    return arch


def _section_bytes(elf: ELFFile, sec, file_size: int, what: str) -> bytes:
    off, size = int(sec["sh_offset"]), int(sec["sh_size"])
    if off + size > file_size:
        raise BinaryError(f"{what} ({sec.name or '?'}) runs past the end of the file "
                          f"(bytes {off}..{off + size} of {file_size}): truncated ELF")
    elf.stream.seek(off)
    data = elf.stream.read(size)
    if len(data) != size:
        raise BinaryError(f"{what} ({sec.name or '?'}) could not be read at byte offset {off}")
    return data


def _symbols(elf: ELFFile, file_size: int) -> tuple[NameTable, dict[str, int]]:
    symtab = elf.get_section_by_name(".symtab")
    if symtab is None or symtab["sh_type"] != "SHT_SYMTAB":
        return NameTable.empty(), {}
    is64 = elf.elfclass == 64
    end = "<" if elf.little_endian else ">"
    if is64:
        dt = np.dtype([("name", end + "u4"), ("info", "u1"), ("other", "u1"),
                       ("shndx", end + "u2"), ("value", end + "u8"), ("size", end + "u8")])
    else:
        dt = np.dtype([("name", end + "u4"), ("value", end + "u4"), ("size", end + "u4"),
                       ("info", "u1"), ("other", "u1"), ("shndx", end + "u2")])
    data = _section_bytes(elf, symtab, file_size, "the symbol table")
    link = int(symtab["sh_link"])
    if not 0 < link < elf.num_sections():
        raise BinaryError(f"the symbol table's string table index {link} is not a section")
    strtab = _section_bytes(elf, elf.get_section(link), file_size, "the symbol string table")
    syms = np.frombuffer(data[: len(data) // dt.itemsize * dt.itemsize], dt)
    kind = syms["info"] & 0xF
    named_bounds = syms["name"] < len(strtab)

    def name_at(off: int) -> str:
        stop = strtab.find(b"\0", off)
        return strtab[off : stop if stop >= 0 else len(strtab)].decode("utf-8", errors="replace")

    markers: dict[str, int] = {}
    marker_bytes = {m.encode() for m in MARKERS}
    for i in np.nonzero(named_bounds & (kind == STT_OBJECT) & (syms["size"] == 0))[0].tolist():
        off = int(syms["name"][i])
        raw = strtab[off : strtab.find(b"\0", off)]
        if raw in marker_bytes:
            markers[raw.decode()] = int(syms["value"][i])
    keep = (named_bounds & ((kind == STT_OBJECT) | (kind == STT_FUNC)) & (syms["size"] > 0)
            & (syms["shndx"] != 0))
    kept = syms[keep]
    labels = [name_at(int(o)) for o in kept["name"].tolist()]
    starts = kept["value"].astype(np.uint64)
    return NameTable(starts, starts + kept["size"].astype(np.uint64), labels), markers


def _go_version(elf: ELFFile, file_size: int) -> str | None:
    sec = elf.get_section_by_name(".go.buildinfo")
    if sec is None or sec["sh_type"] == "SHT_NOBITS":
        return None
    data = _section_bytes(elf, sec, file_size, "the Go build info")
    if not data.startswith(BUILDINFO_MAGIC) or len(data) < 33 or not data[15] & 2:
        return None  # before Go 1.18 the version is behind pointers: not read
    length, pos = uleb128(data, 32, limit=10)
    text = data[pos : pos + min(length, 64)]
    return text.decode("utf-8", errors="replace") or None


def read_binary(path: str) -> Binary:
    """The symbols and facts of the ELF file at ``path``; :class:`BinaryError` if unusable."""
    try:
        with open(path, "rb") as f:
            file_size = os.fstat(f.fileno()).st_size
            head = f.read(64)
            if not head.startswith(b"\x7fELF"):
                raise BinaryError(f"{path}: not an ELF file (it starts with {head[:4]!r}); "
                                  "--program needs the Linux executable that wrote the dump")
            f.seek(0)
            elf = ELFFile(f)
            shoff, shnum, shentsize = elf["e_shoff"], elf.num_sections(), elf["e_shentsize"]
            if shoff + shnum * shentsize > file_size:
                raise BinaryError(f"{path}: section headers at byte offset {shoff} run past the "
                                  f"end of the file ({file_size} bytes): truncated ELF")
            is64 = elf.elfclass == 64
            big = not elf.little_endian
            sections: dict[str, tuple[int, int]] = {}
            file_ranges: list[tuple[int, int, int]] = []
            for sec in elf.iter_sections():
                addr, size = int(sec["sh_addr"]), int(sec["sh_size"])
                if int(sec["sh_flags"]) & SHF_ALLOC and addr:
                    sections[sec.name] = (addr, addr + size)
                    offset = int(sec["sh_offset"])
                    if sec["sh_type"] != "SHT_NOBITS" and offset + size <= file_size:
                        file_ranges.append((addr, addr + size, offset))
            symbols, markers = _symbols(elf, file_size)
            return Binary(path=path, arch=_goarch(elf["e_machine"], 8 if is64 else 4, big),
                          ptr_size=8 if is64 else 4, big_endian=big,
                          go_version=_go_version(elf, file_size), sections=sections,
                          symbols=symbols, markers=markers, file_ranges=file_ranges)
    except BinaryError as e:
        if str(e).startswith(path):
            raise
        raise BinaryError(f"{path}: {e}") from None
    except (ELFError, ConstructError, struct.error, ValueError, IndexError, KeyError,
            TypeError, AttributeError, AssertionError, UnicodeDecodeError) as e:
        raise BinaryError(f"{path}: broken ELF file ({type(e).__name__}: {e})") from None
    except OSError as e:
        raise BinaryError(f"{path}: cannot read: {e.strerror or e}") from None
