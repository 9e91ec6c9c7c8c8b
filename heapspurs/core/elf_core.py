"""An ELF core file (``ET_CORE``, 64-bit little-endian x86-64): recognised by its header, its
``PT_LOAD`` segments read through one read-only mmap of the file, and its notes: each thread's
registers (``NT_PRSTATUS``), the command (``NT_PRPSINFO``), the file mappings (``NT_FILE``) and
a GNU build id when a note carries one.

A segment's first ``p_filesz`` bytes are in the file; the rest of its ``p_memsz`` is memory the
dumper left out (the kernel writes ``p_filesz = 0`` for mappings its ``coredump_filter`` skips,
typically the program's read-only file-backed pages; gdb's ``gcore`` writes them all), not
zeros: reading it is an error here, and :mod:`heapspurs.core.memory` takes such bytes from the
program when the mapping is the program's read-only data.

Every binary layout is declared once below; every count and offset read from the file is
checked against the file's size before anything is read or allocated by it.
"""

from __future__ import annotations

import bisect
import mmap
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from heapspurs.core.errors import CoreFileError, UnmappedAddress

# --- The layouts (System V gABI; Linux's elf_prstatus/elf_prpsinfo/user_regs_struct on x86-64)
EHDR = struct.Struct("<16sHHIQQQIHHHHHH")  # ident type machine version entry phoff shoff flags
#                                             ehsize phentsize phnum shentsize shnum shstrndx
PHDR = struct.Struct("<IIQQQQQQ")  # type flags offset vaddr paddr filesz memsz align
SHDR = struct.Struct("<IIQQQQIIQQ")  # name type flags addr offset size link info addralign entsize
NHDR = struct.Struct("<III")  # namesz descsz type
PRSTATUS_PID = struct.Struct("<i")  # pr_pid, at byte 32 of elf_prstatus
PRSTATUS_PID_AT = 32
USER_REGS = struct.Struct("<27Q")  # user_regs_struct, at byte 112 of elf_prstatus
USER_REGS_AT = 112
REG_RBP, REG_RIP, REG_RSP, REG_FS_BASE = 4, 16, 19, 21  # positions in user_regs_struct
PRPSINFO_FNAME = (40, 16)  # pr_fname: (offset, length) in elf_prpsinfo
PRPSINFO_ARGS = (56, 80)  # pr_psargs
NT_FILE_HEAD = struct.Struct("<QQ")  # count, page size
NT_FILE_ENTRY = struct.Struct("<QQQ")  # start, end, file offset in pages

ELFMAG = b"\x7fELF"
ELFCLASS64, ELFDATA2LSB = 2, 1
ET_NAMES = {0: "an ELF file of no type", 1: "a relocatable object (.o)",
            2: "an ELF executable", 3: "a shared object or PIE executable", 4: "a core file"}
ET_CORE = 4
EM_X86_64 = 62
EM_NAMES = {3: "x86 (32-bit)", 40: "ARM", 183: "arm64", 243: "RISC-V", 21: "PowerPC64",
            22: "s390x", 8: "MIPS", 258: "LoongArch"}
PT_LOAD, PT_NOTE = 1, 4
PF_X, PF_W, PF_R = 1, 2, 4
PN_XNUM = 0xFFFF  # e_phnum's escape: the count is in section header 0's sh_info
NT_PRSTATUS, NT_PRPSINFO, NT_GNU_BUILD_ID = 1, 3, 3
NT_FILE = 0x46494C45
NOTE_ALIGN = 4


@dataclass(frozen=True)
class Segment:
    vaddr: int
    memsz: int
    offset: int  # in the core file
    filesz: int  # bytes of it the file holds (from vaddr on)
    flags: int  # PF_R | PF_W | PF_X

    @property
    def end(self) -> int:
        return self.vaddr + self.memsz

    @property
    def writable(self) -> bool:
        return bool(self.flags & PF_W)


@dataclass(frozen=True)
class Thread:
    """One thread's registers when the core was taken (``NT_PRSTATUS``)."""

    tid: int
    rip: int
    rsp: int
    rbp: int
    fs_base: int  # the thread-local storage base: Go keeps the current g at fs_base - 8


@dataclass(frozen=True)
class FileMapping:
    """One ``NT_FILE`` entry: ``[start, end)`` maps ``path`` from byte ``offset`` on."""

    start: int
    end: int
    offset: int
    path: str


@dataclass
class CoreFile:
    """An open core file. Use as a context manager, or call :meth:`close`."""

    path: str
    size: int
    segments: list[Segment]  # PT_LOAD, sorted by address
    threads: list[Thread]
    mappings: list[FileMapping]
    command: str  # the process's command line (NT_PRPSINFO), "" if absent
    build_id: bytes | None = None
    _map: mmap.mmap | None = field(default=None, repr=False)
    _starts: list[int] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._starts = [s.vaddr for s in self.segments]

    def __enter__(self) -> CoreFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None

    def segment_at(self, address: int) -> Segment | None:
        """The segment whose memory holds ``address`` (None: no segment does)."""
        i = bisect.bisect_right(self._starts, address) - 1
        if i >= 0 and address < self.segments[i].end:
            return self.segments[i]
        return None

    def held(self, address: int) -> int:
        """How many bytes from ``address`` on the core's file holds in one segment (0: none)."""
        s = self.segment_at(address)
        if s is None or address - s.vaddr >= s.filesz:
            return 0
        return s.filesz - (address - s.vaddr)

    def read(self, address: int, n: int) -> bytes:
        """``n`` bytes of the process's memory at ``address``, from the core's file.
        Raises :class:`UnmappedAddress` when any of them is not in the file."""
        if n < 0 or n > self.size:
            raise CoreFileError(f"{self.path}: a read of {n} bytes at {address:#x} is larger "
                                "than the core file: a corrupt length")
        return read_in_pieces(address, n, self.piece)

    def piece(self, address: int) -> tuple[Any, int, int]:
        """(the core file's mapping, offset of ``address`` in it, bytes held there from it on);
        :class:`UnmappedAddress` when the file does not hold it."""
        have = self.held(address)
        s = self.segment_at(address)
        if have == 0 or s is None or self._map is None:
            raise UnmappedAddress(self.absent(address))
        return self._map, s.offset + address - s.vaddr, have

    def absent(self, address: int) -> str:
        """Why ``address`` cannot be read from the core: the error message."""
        s = self.segment_at(address)
        if s is None:
            return f"{self.path}: address {address:#x} is in no segment of the core"
        return (f"{self.path}: address {address:#x} is in the segment {s.vaddr:#x}..{s.end:#x} "
                f"of which the core holds only the first {s.filesz} bytes")


def read_in_pieces(address: int, n: int,
                   piece: Callable[[int], tuple[Any, int, int]]) -> bytes:
    """``n`` bytes from ``address`` on, joined from the pieces ``piece(address)`` gives: (a
    buffer, the offset of ``address`` in it, how many bytes it holds from there)."""
    out = []
    while n > 0:
        buf, start, have = piece(address)
        take = min(have, n)
        out.append(buf[start:start + take])
        address += take
        n -= take
    return b"".join(out) if len(out) != 1 else out[0]


def _error(path: str, what: str) -> CoreFileError:
    return CoreFileError(f"{path}: {what}")


def check_header(path: str, head: bytes, file_size: int) -> tuple:
    """The ELF header's fields (EHDR order) if ``head`` starts an x86-64 ELF core; else
    :class:`CoreFileError` saying what the file is."""
    if len(head) < 4 or not head.startswith(ELFMAG):
        raise _error(path, f"not an ELF file (it starts with {head[:4]!r}): not a core file")
    if len(head) < EHDR.size:
        raise _error(path, f"an ELF header cut short ({file_size} bytes): truncated core")
    h = EHDR.unpack_from(head)
    ident = h[0]
    if ident[4] != ELFCLASS64 or ident[5] != ELFDATA2LSB:
        kind = ("32-bit" if ident[4] == 1 else f"class {ident[4]}") + (
            ", big-endian" if ident[5] == 2 else "")
        raise _error(path, f"a {kind} ELF file: heapspurs reads 64-bit little-endian x86-64 "
                     "cores only")
    e_type, e_machine = h[1], h[2]
    if e_type != ET_CORE:
        what = ET_NAMES.get(e_type, f"an ELF file of type {e_type}")
        raise _error(path, f"{what}, not a core file (ELF type {e_type}, a core is "
                     f"{ET_CORE})")
    if e_machine != EM_X86_64:
        arch = EM_NAMES.get(e_machine, f"machine {e_machine}")
        raise _error(path, f"a core file of {arch}: heapspurs reads x86-64 cores only")
    return h


def is_core(path: str) -> bool:
    """Whether the file at ``path`` starts with the header of an ELF core file (any machine)."""
    try:
        with open(path, "rb") as f:
            head = f.read(EHDR.size)
    except OSError:
        return False
    return (len(head) == EHDR.size and head.startswith(ELFMAG)
            and head[5] in (1, 2) and int.from_bytes(head[16:18], "little" if head[5] == 1
                                                     else "big") == ET_CORE)


def open_core(path: str) -> CoreFile:
    """The core file at ``path``, mmapped; :class:`CoreFileError` (naming the file) when it is
    not a whole x86-64 ELF core."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(EHDR.size)
            h = check_header(path, head, size)
            m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as e:
        raise _error(path, f"cannot read: {e.strerror or e}") from None
    try:
        core = _parse(path, m, size, h)
    except BaseException:
        m.close()
        raise
    return core


def _parse(path: str, m: mmap.mmap, size: int, h: tuple) -> CoreFile:
    phoff, shoff, phentsize, phnum = h[5], h[6], h[9], h[10]
    shentsize = h[11]
    if phnum == PN_XNUM:  # more than 65534 segments: the count is in section 0
        if shoff == 0 or shentsize != SHDR.size or shoff + SHDR.size > size:
            raise _error(path, "e_phnum says the segment count is in section 0, which the "
                         "file does not hold: truncated or corrupt core")
        phnum = SHDR.unpack_from(m, shoff)[7]
    if phentsize != PHDR.size:
        raise _error(path, f"program headers of {phentsize} bytes (ELF64 has {PHDR.size})")
    if phoff + phnum * PHDR.size > size:
        raise _error(path, f"its {phnum} program headers at byte {phoff} run past the end of "
                     f"the file ({size} bytes): truncated core")
    segments: list[Segment] = []
    notes: list[tuple[int, int]] = []
    for i in range(phnum):
        p_type, flags, offset, vaddr, _paddr, filesz, memsz, _align = PHDR.unpack_from(
            m, phoff + i * PHDR.size)
        if p_type not in (PT_LOAD, PT_NOTE):
            continue
        if offset + filesz > size:
            raise _error(path, f"segment {i} ({filesz} bytes at file offset {offset}) runs past "
                         f"the end of the file ({size} bytes): truncated core")
        if p_type == PT_NOTE:
            notes.append((offset, filesz))
        elif memsz:
            if filesz > memsz or vaddr + memsz > 1 << 64:
                raise _error(path, f"segment {i} at {vaddr:#x}: {filesz} bytes in the file "
                             f"for {memsz} of memory: corrupt core")
            segments.append(Segment(vaddr, memsz, offset, filesz, flags))
    segments.sort(key=lambda s: s.vaddr)
    for a, b in zip(segments, segments[1:], strict=False):
        if b.vaddr < a.end:
            raise _error(path, f"segments at {a.vaddr:#x} and {b.vaddr:#x} overlap: corrupt "
                         "core")
    if not segments:
        raise _error(path, "a core file with no memory (no PT_LOAD segment)")
    threads: list[Thread] = []
    mappings: list[FileMapping] = []
    command = ""
    build_id = None
    for offset, length in notes:
        for name, ntype, desc in _notes(path, m, offset, length):
            if name == b"CORE" and ntype == NT_PRSTATUS:
                threads.append(_thread(path, desc))
            elif name == b"CORE" and ntype == NT_PRPSINFO:
                command = _command(desc)
            elif name == b"CORE" and ntype == NT_FILE:
                mappings = _file_mappings(path, desc)
            elif name == b"GNU" and ntype == NT_GNU_BUILD_ID:
                build_id = bytes(desc)
    return CoreFile(path, size, segments, threads, mappings, command, build_id, m)


def _notes(path: str, m: mmap.mmap, offset: int, length: int):
    """(name, type, descriptor bytes) of each note in ``length`` bytes at ``offset``."""
    pos, end = offset, offset + length
    while pos + NHDR.size <= end:
        namesz, descsz, ntype = NHDR.unpack_from(m, pos)
        name_at = pos + NHDR.size
        desc_at = name_at + _align(namesz)
        nxt = desc_at + _align(descsz)
        if desc_at + descsz > end:
            raise _error(path, f"a note at file offset {pos} ({namesz}-byte name, {descsz}-byte "
                         f"descriptor) runs past its segment's end ({end}): corrupt core")
        yield bytes(m[name_at:name_at + namesz]).rstrip(b"\0"), ntype, m[desc_at:desc_at + descsz]
        pos = nxt


def _align(n: int) -> int:
    return (n + NOTE_ALIGN - 1) & ~(NOTE_ALIGN - 1)


def _thread(path: str, desc: bytes) -> Thread:
    if len(desc) < USER_REGS_AT + USER_REGS.size:
        raise _error(path, f"an NT_PRSTATUS note of {len(desc)} bytes (x86-64's is at least "
                     f"{USER_REGS_AT + USER_REGS.size}): corrupt core")
    (tid,) = PRSTATUS_PID.unpack_from(desc, PRSTATUS_PID_AT)
    regs = USER_REGS.unpack_from(desc, USER_REGS_AT)
    return Thread(tid, regs[REG_RIP], regs[REG_RSP], regs[REG_RBP], regs[REG_FS_BASE])


def _command(desc: bytes) -> str:
    at, n = PRPSINFO_ARGS
    args = bytes(desc[at:at + n]).split(b"\0", 1)[0].strip()
    if not args:
        at, n = PRPSINFO_FNAME
        args = bytes(desc[at:at + n]).split(b"\0", 1)[0]
    return args.decode("utf-8", "replace")


def _file_mappings(path: str, desc: bytes) -> list[FileMapping]:
    if len(desc) < NT_FILE_HEAD.size:
        raise _error(path, "an NT_FILE note too short for its header: corrupt core")
    count, page = NT_FILE_HEAD.unpack_from(desc)
    names_at = NT_FILE_HEAD.size + count * NT_FILE_ENTRY.size
    if names_at > len(desc):
        raise _error(path, f"an NT_FILE note of {len(desc)} bytes claims {count} mappings: "
                     "corrupt core")
    names = bytes(desc[names_at:]).split(b"\0")
    if len(names) < count:
        raise _error(path, f"an NT_FILE note with {count} mappings but {len(names)} file "
                     "names: corrupt core")
    out = []
    for i in range(count):
        start, end, pages = NT_FILE_ENTRY.unpack_from(desc, NT_FILE_HEAD.size
                                                      + i * NT_FILE_ENTRY.size)
        out.append(FileMapping(start, end, pages * page,
                               names[i].decode("utf-8", "replace")))
    return out
