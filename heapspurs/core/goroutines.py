"""The goroutines of a core and the threads that run them.

``runtime.allgs`` (a ``[]*runtime.g``) lists every goroutine the process ever made, the dead ones
kept for reuse; each live one's ``runtime.g`` has its id, status (``atomicstatus``), wait reason
(an index into ``runtime.waitReasonStrings``), stack bounds, saved context (``sched``: sp, pc, lr
where it parked or was switched out; ``syscallsp``/``syscallpc`` while in a system call) and the
pcs of its ``go`` statement and function. The heap dump lists the same goroutines (all but the
dead, ``runtime.dumpgs``) with the same fields, its sp/pc being ``syscallsp``/``syscallpc`` when
set and ``sched``'s otherwise; so does :attr:`CoreGoroutine.sp`.

The threads are the core's ``NT_PRSTATUS`` notes. ``runtime.allm`` links every ``runtime.m``
(``alllink``); an m's ``procid`` is its thread's id and ``curg`` the user goroutine it runs (nil
when it runs none), and on linux/amd64 the runtime keeps the g a thread is on (its ``g0`` when
in the scheduler, ``gsignal`` in a signal handler, else ``curg``) in thread-local storage, at
``fs_base - 8``. A goroutine in a system call or running has no saved context of its own: its
registers are its thread's.

Every layout comes from the program's DWARF (:mod:`heapspurs.core.layouts`); every count read
from the core is checked against the core's size before anything is read or allocated by it,
and the ``allm`` walk stops at a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

from heapspurs.core.elf_core import Thread
from heapspurs.core.errors import CoreFileError, UnmappedAddress
from heapspurs.core.layouts import RuntimeTypes
from heapspurs.core.memory import AddressSpace
from heapspurs.format.records import GOROUTINE_STATUS

PTR_SIZE = 8
TLS_G_OFFSET = -8  # linux/amd64: the current g is at fs_base - 8 (runtime.tlsg)
# runtime2.go's statuses (stable since Go 1.x; _Gleaked 10 and _Gdeadextra 11 since 1.26).
G_RUNNING, G_SYSCALL, G_WAITING, G_DEAD, G_DEADEXTRA = 2, 3, 4, 6, 11
G_SCAN = 0x1000
STATUS_NAMES = {**GOROUTINE_STATUS, 10: "Leaked", 11: "Dead (extra)"}
MAX_WAIT_REASON = 1 << 10  # bytes: the longest waitReasonStrings entry is ~40
G_FIELDS = ("stack.lo", "stack.hi", "sched.sp", "sched.pc", "sched.lr", "sched.ctxt",
            "syscallsp", "syscallpc", "atomicstatus", "goid", "waitsince", "waitreason", "gopc",
            "startpc", "m", "_defer", "_panic")
M_FIELDS = ("g0", "gsignal", "procid", "curg", "id", "alllink")


@dataclass(frozen=True)
class CoreGoroutine:
    address: int  # of its runtime.g
    goid: int
    status: int  # atomicstatus, the _Gscan bit included
    wait_code: int  # g.waitreason
    wait_reason: str  # its string, as the dump writes it
    stack_lo: int
    stack_hi: int
    sched_sp: int
    sched_pc: int
    sched_lr: int
    ctxt: int
    syscall_sp: int
    syscall_pc: int
    gopc: int  # pc of the go statement that started it
    startpc: int  # entry of its function
    waitsince: int
    m: int  # its runtime.m when it runs or is in a system call, else 0
    defer: int
    panic: int

    @property
    def dead(self) -> bool:
        return self.status & ~G_SCAN in (G_DEAD, G_DEADEXTRA)

    @property
    def status_name(self) -> str:
        s = STATUS_NAMES.get(self.status & ~G_SCAN, f"Unknown status {self.status}")
        return "Scan" + s.lower() if self.status & G_SCAN else s

    @property
    def sp(self) -> int:
        """The sp ``runtime.dumpgoroutine`` writes and starts its unwinding from."""
        return self.syscall_sp or self.sched_sp

    @property
    def pc(self) -> int:
        return self.syscall_pc if self.syscall_sp else self.sched_pc

    @property
    def lr(self) -> int:
        return 0 if self.syscall_sp else self.sched_lr

    def on_stack(self, sp: int) -> bool:
        return self.stack_lo <= sp < self.stack_hi


@dataclass(frozen=True)
class CoreM:
    address: int
    id: int
    procid: int  # the thread id
    g0: int
    gsignal: int
    curg: int  # the user goroutine it runs, 0 for none


@dataclass(frozen=True)
class ThreadGoroutine:
    """What one thread of the core was doing: its m, the g its TLS names, and the user goroutine
    it runs (with whether its registers are on that goroutine's stack: then they, not the g's
    saved context, are where the goroutine is)."""

    thread: Thread
    m: CoreM | None
    tls_g: int | None  # the g at fs_base - 8 (None: not readable)
    on: str  # "g0", "gsignal", "curg", "other" or "none" (tls_g unreadable or nil)
    goroutine: CoreGoroutine | None  # m.curg's goroutine
    registers_on_goroutine_stack: bool


def _slice(space: AddressSpace, address: int, what: str) -> tuple[int, int]:
    """(array, length) of the slice header at ``address``, its length checked."""
    raw = space.read(address, 3 * PTR_SIZE)
    array, length, cap = (int.from_bytes(raw[k:k + 8], "little") for k in (0, 8, 16))
    if length > cap or length * PTR_SIZE > space.core.size:
        raise CoreFileError(f"{space.core.path}: {what} has length {length} and capacity "
                            f"{cap}: a corrupt core or another program")
    return array, length


def wait_reasons(space: AddressSpace, rt: RuntimeTypes) -> list[str]:
    """``runtime.waitReasonStrings``, read from the process (its strings are in the program's
    read-only data)."""
    g = rt.global_var("runtime.waitReasonStrings")
    count = rt.array_count(g)
    if count * 2 * PTR_SIZE != g.size:
        raise CoreFileError(f"{rt.program}: runtime.waitReasonStrings is {g.size} bytes for "
                            f"{count} strings in its DWARF: corrupt DWARF")
    raw = space.read(g.address, g.size)
    out = []
    for i in range(count):
        ptr = int.from_bytes(raw[16 * i:16 * i + 8], "little")
        n = int.from_bytes(raw[16 * i + 8:16 * i + 16], "little")
        if n > MAX_WAIT_REASON:
            raise CoreFileError(f"{space.core.path}: runtime.waitReasonStrings[{i}] is {n} bytes"
                                " long: a corrupt core")
        out.append(space.read(ptr, n).decode("utf-8", "replace") if n else "")
    return out


def goroutines(space: AddressSpace, rt: RuntimeTypes) -> list[CoreGoroutine]:
    """Every goroutine in ``runtime.allgs``, dead ones included (:attr:`CoreGoroutine.dead`),
    in allgs order."""
    where = space.core.path
    f = rt.fields("runtime.g", G_FIELDS)
    g_size = rt.struct_size("runtime.g")
    reasons = wait_reasons(space, rt)
    array, length = _slice(space, rt.global_var("runtime.allgs").address, "runtime.allgs")
    if length * g_size > space.core.size:
        raise CoreFileError(f"{where}: runtime.allgs lists {length} goroutines of {g_size} "
                            "bytes, more than the core holds: a corrupt core")
    pointers = space.read(array, length * PTR_SIZE) if length else b""
    out = []
    for i in range(length):
        address = int.from_bytes(pointers[8 * i:8 * i + 8], "little")
        try:
            raw = space.read(address, g_size)
        except UnmappedAddress:
            raise CoreFileError(f"{where}: runtime.allgs[{i}] is {address:#x}, which the core "
                                "does not hold: a corrupt core or another program") from None
        code = f["waitreason"].of(raw)
        out.append(CoreGoroutine(
            address=address, goid=f["goid"].of(raw), status=f["atomicstatus"].of(raw),
            wait_code=code,
            wait_reason=reasons[code] if code < len(reasons) else "unknown wait reason",
            stack_lo=f["stack.lo"].of(raw), stack_hi=f["stack.hi"].of(raw),
            sched_sp=f["sched.sp"].of(raw), sched_pc=f["sched.pc"].of(raw),
            sched_lr=f["sched.lr"].of(raw), ctxt=f["sched.ctxt"].of(raw),
            syscall_sp=f["syscallsp"].of(raw), syscall_pc=f["syscallpc"].of(raw),
            gopc=f["gopc"].of(raw), startpc=f["startpc"].of(raw),
            waitsince=f["waitsince"].signed(raw), m=f["m"].of(raw), defer=f["_defer"].of(raw),
            panic=f["_panic"].of(raw)))
    return out


def ms(space: AddressSpace, rt: RuntimeTypes) -> list[CoreM]:
    """Every m on the ``runtime.allm`` list, newest first as the runtime links them."""
    where = space.core.path
    f = rt.fields("runtime.m", M_FIELDS)
    m_size = rt.struct_size("runtime.m")
    at = space.word(rt.global_var("runtime.allm").address)
    out: list[CoreM] = []
    seen: set[int] = set()
    limit = space.core.size // m_size  # no more ms than the core could hold
    while at:
        if at in seen or len(out) > limit:
            raise CoreFileError(f"{where}: runtime.allm loops back to {at:#x} after {len(out)} "
                                "ms: a corrupt core")
        seen.add(at)
        try:
            raw = space.read(at, m_size)
        except UnmappedAddress:
            raise CoreFileError(f"{where}: runtime.allm links to {at:#x}, which the core does "
                                "not hold: a corrupt core or another program") from None
        out.append(CoreM(at, f["id"].signed(raw), f["procid"].of(raw), f["g0"].of(raw),
                         f["gsignal"].of(raw), f["curg"].of(raw)))
        at = f["alllink"].of(raw)
    return out


def thread_goroutines(space: AddressSpace, rt: RuntimeTypes,
                      gs: list[CoreGoroutine] | None = None) -> list[ThreadGoroutine]:
    """For each thread of the core: its m (by ``procid``), the g in its TLS, and the user
    goroutine it runs."""
    gs = goroutines(space, rt) if gs is None else gs
    by_address = {g.address: g for g in gs}
    by_tid = {m.procid: m for m in ms(space, rt)}
    out = []
    for t in space.core.threads:
        m = by_tid.get(t.tid)
        try:
            tls_g: int | None = space.word(t.fs_base + TLS_G_OFFSET) if t.fs_base else None
        except UnmappedAddress:
            tls_g = None
        on = "none"
        if tls_g and m is not None:
            on = ("g0" if tls_g == m.g0 else "gsignal" if tls_g == m.gsignal
                  else "curg" if tls_g == m.curg else "other")
        g = by_address.get(m.curg) if m is not None and m.curg else None
        out.append(ThreadGoroutine(t, m, tls_g, on, g, g is not None and g.on_stack(t.rsp)))
    return out
