"""A goroutine's stack frames, unwound from its saved context with the program's function table
(the pclntab), as the runtime's ``unwinder`` does for the heap dump (linux/amd64, no link
register).

The main module's ``runtime.moduledata`` points at the tables: ``ftab`` (each function's entry
and ``_func`` offsets, sorted by entry, one sentinel entry past the last function), ``pclntable``
(the ``_func`` records: ``entryOff``, ``nameOff`` into ``funcnametab``, ``pcsp`` into ``pctab``,
``flag``), ``pctab`` (pc-value tables: pairs of zig-zag varint value delta and varint pc delta
from the entry, value starting at -1, ending with a 0 value delta). A frame at ``pc`` with
lowest address ``sp`` ends at ``fp = sp + spdelta(pc) + 8`` (the return address is the word
below ``fp``); its caller's frame starts at ``fp`` with that return address as its pc. The walk
ends at a function flagged top-of-stack (``runtime.goexit``, ``runtime.mstart``) or a return
address of 0; a return address in no function is an error, as it is the runtime's (it throws
"unknown caller pc").

Each ``_func`` record is followed by its ``npcdata`` pc-value table offsets (into pctab) and its
``nfuncdata`` funcdata offsets (from ``moduledata.gofunc``; ``^uint32(0)`` for none):
:meth:`FuncTable.pcdata_value` and :meth:`FuncTable.funcdata` read them for
:mod:`heapspurs.core.stackmaps`.

Every frame is checked to lie within the goroutine's stack, and the walk is bounded by the
number of words on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heapspurs.core.errors import CoreFileError, UnmappedAddress
from heapspurs.core.goroutines import CoreGoroutine
from heapspurs.core.layouts import RuntimeTypes
from heapspurs.core.memory import AddressSpace

PTR_SIZE = 8
PC_QUANTUM = 1  # amd64
FUNC_FLAG_TOP_FRAME = 1  # internal/abi.FuncFlagTopFrame
MD_SLICES = ("ftab", "pclntable", "pctab", "funcnametab", "textsectmap")
FUNC_FIELDS = ("entryOff", "nameOff", "args", "pcsp", "npcdata", "flag", "nfuncdata")
MAX_NAME = 1 << 16  # a function name longer than this is corrupt data


@dataclass(frozen=True)
class Func:
    entry: int
    name: str
    pcsp: int  # offset of its pc-sp table in pctab
    flag: int
    args: int = 0  # its arguments' size in bytes (signed: abi.ArgsSizeUnknown is -1 << 31)
    npcdata: int = 0  # the pc-value tables' offsets that follow the record (uint32 each)
    nfuncdata: int = 0  # then the funcdata offsets from moduledata.gofunc (uint32 each)
    record: int = 0  # the record's offset in pclntable


@dataclass(frozen=True)
class Frame:
    name: str
    entry: int
    pc: int
    sp: int  # lowest address of the frame
    fp: int  # one past its highest (the caller's sp)

    @property
    def size(self) -> int:
        return self.fp - self.sp


class FuncTable:
    """The main module's function table, read from the process (its bytes are in the program's
    read-only data, which :class:`AddressSpace` reads from the program)."""

    def __init__(self, space: AddressSpace, rt: RuntimeTypes):
        self.where = space.core.path
        md_addr = rt.global_var("runtime.firstmoduledata").address
        raw = space.read(md_addr, rt.struct_size("runtime.moduledata"))
        f = rt.fields("runtime.moduledata", ("text", "gofunc", *MD_SLICES))
        self.text = f["text"].of(raw)
        self.gofunc = f["gofunc"].of(raw)
        tables = {}
        for name in MD_SLICES:
            at = f[name].offset
            ptr, n = (int.from_bytes(raw[at + k:at + k + 8], "little") for k in (0, 8))
            elem = 8 if name == "ftab" else 24 if name == "textsectmap" else 1
            if n * elem > space.core.size:
                raise CoreFileError(f"{self.where}: runtime.firstmoduledata.{name} has {n} "
                                    "entries, more than the core holds: a corrupt core")
            tables[name] = (ptr, n)
        if tables["textsectmap"][1] > 1:
            raise CoreFileError(f"{rt.program}: a program with {tables['textsectmap'][1]} text "
                                "sections, which heapspurs does not unwind yet")
        ptr, n = tables["ftab"]
        if n < 1:
            raise CoreFileError(f"{self.where}: runtime.firstmoduledata.ftab is empty: a "
                                "corrupt core")
        ftab = np.frombuffer(space.read(ptr, n * 8), "<u4").reshape(n, 2)
        self.entryoffs = ftab[:, 0].astype(np.int64)
        self.funcoffs = ftab[:, 1].astype(np.int64)
        if np.any(self.entryoffs[1:] < self.entryoffs[:-1]):
            raise CoreFileError(f"{self.where}: the function table is not sorted by entry: a "
                                "corrupt core or another program")
        self.pclntable = space.read(*tables["pclntable"])
        self.pctab = space.read(*tables["pctab"])
        self.funcnametab = space.read(*tables["funcnametab"])
        self.func_size = rt.struct_size("runtime._func")
        self.func_fields = rt.fields("runtime._func", FUNC_FIELDS)
        # The pcdata and funcdata offsets follow the record's last field, nfuncdata.
        nfd = self.func_fields["nfuncdata"]
        self.func_tail = nfd.offset + nfd.size
        self._cache: dict[int, Func] = {}

    def _corrupt(self, what: str) -> CoreFileError:
        return CoreFileError(f"{self.where}: {what}: a corrupt core or another program")

    def find(self, pc: int) -> Func | None:
        """The function whose code holds ``pc`` (None: no function does)."""
        off = pc - self.text
        if off < 0 or off >= int(self.entryoffs[-1]):
            return None
        i = int(np.searchsorted(self.entryoffs, off, side="right")) - 1
        if i < 0 or i >= len(self.entryoffs) - 1:
            return None
        if i in self._cache:
            return self._cache[i]
        at = int(self.funcoffs[i])
        raw = self.pclntable[at:at + self.func_size]
        if len(raw) < self.func_size:
            raise self._corrupt(f"function {i}'s record at {at} is past the function table")
        ff = self.func_fields
        name_at = ff["nameOff"].signed(raw)
        end = self.funcnametab.find(b"\0", max(name_at, 0), max(name_at, 0) + MAX_NAME)
        if name_at < 0 or end < 0:
            raise self._corrupt(f"function {i}'s name at {name_at} is not in the name table")
        func = Func(self.text + ff["entryOff"].of(raw),
                    self.funcnametab[name_at:end].decode("utf-8", "replace"),
                    ff["pcsp"].of(raw), ff["flag"].of(raw), ff["args"].signed(raw),
                    ff["npcdata"].of(raw), ff["nfuncdata"].of(raw), at)
        self._cache[i] = func
        return func

    def sp_delta(self, f: Func, pc: int) -> int:
        """The value of ``f``'s pc-sp table at ``pc`` (``runtime.funcspdelta``)."""
        return self.pc_value(f, f.pcsp, pc)

    def pc_value(self, f: Func, table: int, pc: int) -> int:
        """The value at ``pc`` of ``f``'s pc-value table at offset ``table`` of pctab
        (``runtime.pcvalue``: -1 for no table; a table that does not cover ``pc`` is
        corrupt). Bounded: each step reads at least two bytes of pctab."""
        if table == 0:
            return -1
        p = self.pctab
        i, val, at = table, -1, f.entry
        while i < len(p):
            uv, i = _uvarint(p, i)
            if uv == 0 and at != f.entry:
                break
            val += -(uv & 1) ^ (uv >> 1)
            pcd, i = _uvarint(p, i)
            at += pcd * PC_QUANTUM
            if pc < at:
                return val
        raise self._corrupt(f"{f.name}'s pc-value table at {table} has no value at {pc:#x}")

    def _tail_word(self, f: Func, index: int) -> int:
        """The ``index``-th uint32 after ``f``'s record (its pcdata, then funcdata, offsets)."""
        at = f.record + self.func_tail + 4 * index
        if at + 4 > len(self.pclntable):
            raise self._corrupt(f"{f.name}'s pcdata/funcdata offsets run past the function "
                                "table")
        return int.from_bytes(self.pclntable[at:at + 4], "little")

    def pcdata_value(self, f: Func, table: int, pc: int) -> int:
        """``runtime.pcdatavalue``: the value of ``f``'s pcdata table ``table`` at ``pc``
        (-1 when ``f`` has no such table)."""
        if table >= f.npcdata:
            return -1
        return self.pc_value(f, self._tail_word(f, table), pc)

    def funcdata(self, f: Func, index: int) -> int | None:
        """``runtime.funcdata``: the address of ``f``'s funcdata ``index`` (None: it has
        none)."""
        if index >= f.nfuncdata:
            return None
        off = self._tail_word(f, f.npcdata + index)
        return None if off == 0xFFFFFFFF else self.gofunc + off


def _uvarint(p: bytes, i: int) -> tuple[int, int]:
    v, shift = 0, 0
    while i < len(p) and shift < 35:  # at most 5 bytes: the runtime reads uint32s
        b = p[i]
        i += 1
        v |= (b & 0x7F) << shift
        if not b & 0x80:
            return v & 0xFFFFFFFF, i
        shift += 7
    raise ValueError("a varint runs past the end of the pc table")


def unwind(space: AddressSpace, table: FuncTable, g: CoreGoroutine,
           start: tuple[int, int] | None = None) -> list[Frame]:
    """``g``'s frames, innermost first, from its saved context (the sp/pc the dump uses) or
    from ``start`` = (pc, sp), its thread's registers when it is running."""
    where = space.core.path
    pc, sp = start if start is not None else (g.pc, g.sp)
    frames: list[Frame] = []
    limit = max(0, (g.stack_hi - g.stack_lo) // PTR_SIZE)
    while pc and len(frames) <= limit:
        f = table.find(pc)
        if f is None:  # the runtime's unwinder throws "unknown caller pc"
            what = f"{frames[-1].name} returns to" if frames else "pc is"
            raise CoreFileError(f"{where}: goroutine {g.goid}'s {what} {pc:#x}, in no "
                                "function: a corrupt core or another program")
        try:
            delta = table.sp_delta(f, pc)
        except ValueError as e:
            raise CoreFileError(f"{where}: {f.name}'s pc-sp table: {e}") from None
        fp = sp + delta + PTR_SIZE
        if delta < 0 or not (g.stack_lo <= sp and fp <= g.stack_hi):
            raise CoreFileError(f"{where}: goroutine {g.goid}'s frame of {f.name} at "
                                f"{sp:#x}..{fp:#x} is outside its stack {g.stack_lo:#x}.."
                                f"{g.stack_hi:#x}: a corrupt core")
        frames.append(Frame(f.name, f.entry, pc, sp, fp))
        if f.flag & FUNC_FLAG_TOP_FRAME:
            break
        try:
            pc = space.word(fp - PTR_SIZE)
        except UnmappedAddress:
            raise CoreFileError(f"{where}: goroutine {g.goid}'s stack at {fp - 8:#x} is not in "
                                "the core: a truncated core") from None
        sp = fp
    return frames



# The signal restorer the runtime installs (sa_restorer): the kernel's rt_sigframe starts with
# its address (pretcode), the interrupted context (a ucontext) follows. Its name since Go 1.20;
# runtime.sigreturn before.
SIGRETURN = ("runtime.sigreturn__sigaction", "runtime.sigreturn")
# linux/amd64 ucontext: uc_flags, uc_link, uc_stack (24 bytes), then the sigcontext's r8..r15,
# rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip.
UC_RSP, UC_RIP = 40 + 15 * PTR_SIZE, 40 + 16 * PTR_SIZE


def interrupted_context(space: AddressSpace, table: FuncTable, pc: int, sp: int, stack_lo: int,
                        stack_hi: int) -> tuple[int, int] | None:
    """The (pc, sp) a signal interrupted, for a thread at ``pc``/``sp`` in the runtime's signal
    handler on a signal stack ``stack_lo``..``stack_hi`` (its m's ``gsignal``): its frames are
    unwound up to the return address into the restorer (past ``runtime.sigtramp``, which the
    function table flags top-of-stack), whose word starts the kernel's signal frame, the
    ucontext just above it. None when no frame returns to the restorer (not in a handler) or
    the walk leaves the stack or the core."""
    for _ in range(max(0, (stack_hi - stack_lo) // PTR_SIZE)):
        f = table.find(pc)
        if f is None:
            return None
        if f.name in SIGRETURN and pc == f.entry:  # returned to from the pretcode: sp is at uc
            try:
                return space.word(sp + UC_RIP), space.word(sp + UC_RSP)
            except UnmappedAddress:
                return None
        try:
            fp = sp + table.sp_delta(f, pc) + PTR_SIZE
            if not stack_lo <= sp < fp <= stack_hi:
                return None
            pc, sp = space.word(fp - PTR_SIZE), fp
        except (ValueError, UnmappedAddress):
            return None
    return None
