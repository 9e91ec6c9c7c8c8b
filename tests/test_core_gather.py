"""heapspurs.core.gather: many reads at once give the bytes one read each gives, and its
fallback (a range the core's file does not hold in one segment) raises what a read raises."""

from __future__ import annotations

import numpy as np
import pytest

from heapspurs.core.elf_core import open_core
from heapspurs.core.errors import UnmappedAddress
from heapspurs.core.gather import Gather
from heapspurs.core.heap import heap_objects, runtime_layout
from heapspurs.core.memory import AddressSpace, open_address_space


class _Reads(AddressSpace):
    """An address space read only through its read (no fast path)."""

    def __init__(self, space: AddressSpace):
        self.__dict__.update(space.__dict__)

    def read(self, address: int, n: int) -> bytes:
        return super().read(address, n)


def test_gather_reads_what_read_reads(corefile_run):
    program = str(corefile_run.binary)
    layout = runtime_layout(program)
    with open_core(str(corefile_run.core)) as core, open_address_space(core, program) as space:
        heap = heap_objects(space, layout)
        addr = heap.addr[::7]
        rng = np.random.default_rng(20)
        n = np.minimum(heap.size[::7], rng.integers(0, 100, len(addr))).astype(np.int64)
        # A range running from the last segment held past its end: read one by one.
        last = max((s for s in core.segments if s.filesz), key=lambda s: s.vaddr)
        for g in (Gather(space), Gather(_Reads(space))):
            fixed = g.fixed(addr, 16)
            assert [bytes(r) for r in fixed] == [space.read(int(a), 16) for a in addr]
            got, starts = g.ranges(addr, n)
            assert [bytes(got[starts[i]:starts[i + 1]]) for i in range(len(addr))] == [
                space.read(int(a), int(k)) for a, k in zip(addr, n, strict=True)]
            words = g.words_at(addr)
            assert words.tolist() == [space.word(int(a)) for a in addr]
            with pytest.raises(UnmappedAddress):
                g.fixed(np.array([last.vaddr + last.filesz - 8], np.uint64), 16)
            with pytest.raises(UnmappedAddress):
                g.words_at(np.array([last.vaddr + last.filesz], np.uint64))
