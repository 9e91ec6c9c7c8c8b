"""The roots a core gives, in one call: the data and BSS segments' pointer words
(:mod:`heapspurs.core.globals`), the goroutines and the threads that run them
(:mod:`heapspurs.core.goroutines`) and each live goroutine's frames (:mod:`heapspurs.core.unwind`:
from its saved context, or from its thread's registers when it is running); with the layouts of
the runtime's structs from the program's DWARF (:mod:`heapspurs.core.layouts`).
"""

from __future__ import annotations

from dataclasses import dataclass

from heapspurs.core.elf_core import open_core
from heapspurs.core.errors import UnmappedAddress
from heapspurs.core.globals import GlobalSegment, global_roots
from heapspurs.core.goroutines import (
    G_RUNNING,
    CoreGoroutine,
    ThreadGoroutine,
    goroutines,
    thread_goroutines,
)
from heapspurs.core.layouts import RuntimeTypes
from heapspurs.core.memory import AddressSpace, open_address_space
from heapspurs.core.unwind import Frame, FuncTable, interrupted_context, unwind


@dataclass
class CoreRoots:
    segments: list[GlobalSegment]  # data, then BSS
    goroutines: list[CoreGoroutine]  # allgs order, dead ones included
    threads: list[ThreadGoroutine]  # the core's threads, in note order
    frames: dict[int, list[Frame]]  # live goroutine's g address -> its frames, innermost first

    @property
    def live_goroutines(self) -> list[CoreGoroutine]:
        """The goroutines the heap dump would list (all but the dead)."""
        return [g for g in self.goroutines if not g.dead]


def roots_of(space: AddressSpace, rt: RuntimeTypes) -> CoreRoots:
    gs = goroutines(space, rt)
    threads = thread_goroutines(space, rt, gs)
    table = FuncTable(space, rt)
    # A running goroutine's saved context is stale: its thread's registers say where it is.
    registers = {t.goroutine.address: (t.thread.rip, t.thread.rsp) for t in threads
                 if t.goroutine is not None and t.registers_on_goroutine_stack
                 and t.goroutine.status == G_RUNNING}
    # One in the signal handler (a GOTRACEBACK=crash core: the kernel wrote it while the runtime
    # re-raised SIGABRT) is on its m's gsignal stack: the signal's frame holds where it was.
    for t in threads:
        g = t.goroutine
        if g is None or g.address in registers or g.status != G_RUNNING or t.m is None:
            continue
        context = _signal_context(space, rt, table, t)
        if context is not None and g.on_stack(context[1]):
            registers[g.address] = context
    frames = {g.address: unwind(space, table, g, registers.get(g.address))
              for g in gs if not g.dead}
    return CoreRoots(global_roots(space, rt), gs, threads, frames)


def _signal_context(space: AddressSpace, rt: RuntimeTypes, table: FuncTable,
                    t: ThreadGoroutine) -> tuple[int, int] | None:
    """The (pc, sp) the signal interrupted when thread ``t`` is in a handler on its m's gsignal
    stack, else None."""
    assert t.m is not None
    if not t.m.gsignal:
        return None
    f = rt.fields("runtime.g", ("stack.lo", "stack.hi"))
    try:
        raw = space.read(t.m.gsignal, rt.struct_size("runtime.g"))
    except UnmappedAddress:
        return None
    lo, hi = f["stack.lo"].of(raw), f["stack.hi"].of(raw)
    if not lo <= t.thread.rsp < hi:
        return None
    return interrupted_context(space, table, t.thread.rip, t.thread.rsp, lo, hi)


def core_roots(core_path: str, program: str) -> CoreRoots:
    """The roots of the core file at ``core_path`` taken of ``program``; a ValueError naming the
    file (:class:`heapspurs.core.errors.CoreFileError`, or the names stage's ``BinaryError``)
    when either is not usable."""
    with open_core(core_path) as core:
        rt = RuntimeTypes(program)
        with open_address_space(core, program) as space:
            return roots_of(space, rt)
