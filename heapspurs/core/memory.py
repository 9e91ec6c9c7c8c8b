"""The process's address space as the core and its program show it together: the core's bytes
where it holds them, and under them the program's read-only segments (code, read-only data,
type descriptors), which dumpers often leave out of a core because the file has them; the
``NT_FILE`` note says where the process mapped the program, and only those places are filled.

Before anything is read, :func:`open_address_space` checks that the program is the one the core
was taken of: its code is mapped in the core, and every byte of its read-only segments that the
core holds is equal to the program's.
"""

from __future__ import annotations

import bisect
import mmap
import os
from typing import Any

from heapspurs.core.elf_core import (
    EHDR,
    ELFCLASS64,
    ELFDATA2LSB,
    ELFMAG,
    EM_X86_64,
    PF_W,
    PF_X,
    PHDR,
    PT_LOAD,
    CoreFile,
    Segment,
    read_in_pieces,
)
from heapspurs.core.errors import CoreFileError, UnmappedAddress

ET_EXEC = 2
COMPARE_CHUNK = 1 << 24  # bytes of a segment compared at once


class AddressSpace:
    """Reads of the process's memory: ``read(address, n)`` and little-endian words."""

    def __init__(self, core: CoreFile, program: str, segments: list[Segment],
                 program_map: mmap.mmap | None):
        self.core = core
        self.program = program
        self.segments = sorted(segments, key=lambda s: s.vaddr)  # the program's, filled in
        self._starts = [s.vaddr for s in self.segments]
        self._map = program_map

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None

    def __enter__(self) -> AddressSpace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _program_held(self, address: int) -> tuple[Segment | None, int]:
        i = bisect.bisect_right(self._starts, address) - 1
        if i < 0:
            return None, 0
        s = self.segments[i]
        if address - s.vaddr >= s.filesz:
            return None, 0
        return s, s.filesz - (address - s.vaddr)

    def read(self, address: int, n: int) -> bytes:
        """``n`` bytes at ``address``; :class:`UnmappedAddress` if any is neither in the core
        nor in the program's read-only segments."""
        if n < 0 or n > self.core.size:
            raise CoreFileError(f"{self.core.path}: a read of {n} bytes at {address:#x} is "
                                "larger than the core file: a corrupt length")
        return read_in_pieces(address, n, self._piece)

    def _piece(self, address: int) -> tuple[Any, int, int]:
        """The core's piece at ``address``, else the program's (see read_in_pieces)."""
        if self.core.held(address):
            return self.core.piece(address)
        s, have = self._program_held(address)
        if s is None or self._map is None:
            raise UnmappedAddress(self.core.absent(address))
        return self._map, s.offset + address - s.vaddr, have

    def word(self, address: int) -> int:
        return int.from_bytes(self.read(address, 8), "little")


def program_segments(path: str) -> tuple[list[Segment], int]:
    """The PT_LOAD segments of the x86-64 executable at ``path`` and its size;
    :class:`CoreFileError` naming the file when it is not one."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(EHDR.size)
            if not head.startswith(ELFMAG) or len(head) < EHDR.size:
                raise CoreFileError(f"{path}: not an ELF file: --program needs the Linux "
                                    "executable the core was taken of")
            h = EHDR.unpack(head)
            if h[0][4] != ELFCLASS64 or h[0][5] != ELFDATA2LSB or h[2] != EM_X86_64:
                raise CoreFileError(f"{path}: not an x86-64 executable")
            if h[1] != ET_EXEC:
                what = "a core file" if h[1] == 4 else (
                    "a position-independent executable (PIE), which heapspurs does not read "
                    "with a core yet" if h[1] == 3 else f"an ELF file of type {h[1]}")
                raise CoreFileError(f"{path}: {what}; --program needs the executable")
            phoff, phentsize, phnum = h[5], h[9], h[10]
            if phentsize != PHDR.size or phoff + phnum * PHDR.size > size:
                raise CoreFileError(f"{path}: program headers past the end of the file: "
                                    "truncated executable")
            f.seek(phoff)
            table = f.read(phnum * PHDR.size)
    except OSError as e:
        raise CoreFileError(f"{path}: cannot read: {e.strerror or e}") from None
    out = []
    for i in range(phnum):
        p_type, flags, offset, vaddr, _paddr, filesz, memsz, _align = PHDR.unpack_from(
            table, i * PHDR.size)
        if p_type != PT_LOAD or not memsz:
            continue
        if offset + filesz > size or filesz > memsz:
            raise CoreFileError(f"{path}: segment {i} runs past the end of the file: "
                                "truncated executable")
        out.append(Segment(vaddr, memsz, offset, filesz, flags))
    return out, size


def _mapped_from_program(core: CoreFile, s: Segment) -> bool:
    """Whether NT_FILE maps ``s``'s file bytes at ``s``'s address (any file of that layout:
    a program copied elsewhere is still the program; its bytes are compared later)."""
    if not core.mappings:
        return True  # a core without the note: the program's addresses are fixed (ET_EXEC)
    return any(m.start <= s.vaddr < m.end and m.start - m.offset == s.vaddr - s.offset
               for m in core.mappings)


def open_address_space(core: CoreFile, program: str) -> AddressSpace:
    """The address space of ``core`` with ``program``'s read-only segments beneath it;
    :class:`CoreFileError` when the program is not the one the core was taken of."""
    segments, size = program_segments(program)
    code = [s for s in segments if s.flags & PF_X]
    taken_of = core.command or (core.mappings[0].path if core.mappings else "?")
    if not code:
        raise CoreFileError(f"{program}: an executable with no code segment")
    text = code[0]
    if not core.segment_at(text.vaddr) and not any(
            m.start <= text.vaddr < m.end for m in core.mappings):
        raise CoreFileError(f"{core.path}: not a core of {program}: the program's code at "
                            f"{text.vaddr:#x} is not in the core's memory (the core's "
                            f"process: {taken_of})")
    readonly = [s for s in segments if not s.flags & PF_W and s.filesz]
    with open(program, "rb") as f:
        pmap = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else None
    space = AddressSpace(core, program, [s for s in readonly if _mapped_from_program(core, s)],
                         pmap)
    try:
        for s in readonly:
            _compare(core, program, s, pmap, taken_of)
    except BaseException:
        space.close()
        raise
    return space


def _compare(core: CoreFile, program: str, s: Segment, pmap: mmap.mmap | None,
             taken_of: str) -> None:
    """Every byte of segment ``s`` that the core holds equals the program's."""
    if pmap is None:
        return
    for c in core.segments:
        address, end = max(c.vaddr, s.vaddr), min(c.vaddr + c.filesz, s.vaddr + s.filesz)
        while address < end:
            take = min(end - address, COMPARE_CHUNK)
            at = s.offset + address - s.vaddr
            if core.read(address, take) != pmap[at:at + take]:
                raise CoreFileError(
                    f"{core.path}: not a core of {program}: the program's bytes at "
                    f"{address:#x}..{address + take:#x} differ from the core's (the core's "
                    f"process: {taken_of})")
            address += take
