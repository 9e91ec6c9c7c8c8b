"""Pointer slots from a core (heapspurs.core.pointers) equal the heap dump's.

tests/goprogs/corefile writes a heap dump, then blocks; gcore takes its core. For every object
the core's heap lists, the pointer slot offsets the core's heap bits, malloc headers and span
types give must equal the dump's exactly (both count from the slot start: an object with a
malloc header has its slots at 8 and past, and word 0 is its type descriptor), and the values in
them must equal the dump's, but for the few words the goroutine that wrote the dump and its
thread changed since (named below). The shapes of tests/goprogs/corefile/pointers.go are checked
against their Go declarations too. Then corrupt memory: one-line errors, no traceback.
"""

from __future__ import annotations

import numpy as np
import pytest

from heapspurs.core.elf_core import open_core
from heapspurs.core.errors import CoreFileError
from heapspurs.core.heap import PAGE_SIZE, heap_objects, runtime_layout
from heapspurs.core.memory import AddressSpace, open_address_space
from heapspurs.core.pointers import (
    ARENA_BASE_OFFSET,
    MALLOC_HEADER_SIZE,
    PointerSlots,
    pointer_layout,
    pointer_slots,
)
from heapspurs.index.load import load_index
from heapspurs.names.dwarf_types import GoTypes, load_types
from heapspurs.names.elf_binary import read_binary

# Words of the goroutine that wrote the dump and of its thread (runtime.m) that differ between
# the dump and the core: the dump was written with the world stopped by that goroutine, running
# on that thread (g.m, m.curg; m.preemptoff a string naming why it may not be preempted); the
# core shows it parked in select{}, its thread idle (Go 1.24+: m.allpSnapshot set when the
# thread dropped its P).
CHANGED_SINCE_DUMP = {("runtime.g", "m"), ("runtime.m", "curg"), ("runtime.m", "preemptoff"),
                      ("runtime.m", "allpSnapshot")}


@pytest.fixture(scope="session")
def types(corefile_run) -> GoTypes:
    return load_types(str(corefile_run.binary), pcs=np.zeros(0, np.uint64))


@pytest.fixture(scope="session")
def core_slots(corefile_run, types):
    program = str(corefile_run.binary)
    layout = runtime_layout(program)
    pl = pointer_layout(program, layout, types)
    with open_core(str(corefile_run.core)) as core, open_address_space(core, program) as space:
        heap = heap_objects(space, layout)
        slots = pointer_slots(space, layout, pl, heap)
        headers = {int(a): space.word(int(a)) for a in heap.addr[heap.size > 512].tolist()}
    return layout, pl, heap, slots, headers


def struct_type(types: GoTypes, name: str):
    return next(t for t in types.types if t.name == name and t.tag == "struct")


def _slots(slots: PointerSlots, i: int) -> tuple[np.ndarray, np.ndarray]:
    s, e = int(slots.pstart[i]), int(slots.pstart[i + 1])
    return slots.poff[s:e], slots.pval[s:e]


def test_pointer_slots_are_the_dumps(corefile_run, types, core_slots):
    layout, pl, heap, slots, headers = core_slots
    ix = load_index(str(corefile_run.dump), use_cache=False)
    at = np.searchsorted(ix.addr, heap.addr)
    assert np.array_equal(ix.addr[at], heap.addr)  # every core object is a dump object
    assert slots.untyped == 0
    assert len(slots.pstart) == len(heap.addr) + 1 and len(slots.poff) == len(slots.pval)
    changed = []
    with_header = named = 0
    binary = read_binary(str(corefile_run.binary))
    type_section = next(r for r in binary.sections.values()
                        if r[0] <= binary.markers["runtime.types"] < r[1])
    for i, j in enumerate(at.tolist()):
        poff, pval = _slots(slots, i)
        s, e = int(ix.pstart[j]), int(ix.pstart[j + 1])
        assert poff.tolist() == ix.poff[s:e].tolist(), (
            f"object {int(heap.addr[i]):#x} of {int(heap.size[i])} bytes: core slots "
            f"{poff[:16].tolist()}..., dump {ix.poff[s:e][:16].tolist()}...")
        if bool(ix.header[j]):
            # The dump's offsets and the core's both count from the slot start: the header
            # (word 0, the object's *abi.Type) is never a slot, the object's own words are.
            with_header += 1
            assert poff[0] >= MALLOC_HEADER_SIZE
            assert type_section[0] <= headers[int(heap.addr[i])] < type_section[1]
            named += headers[int(heap.addr[i])] in types.runtime
        diff = np.nonzero(pval != ix.pval[s:e])[0]
        changed += [(i, int(poff[k]), int(pval[k]), int(ix.pval[s + k])) for k in diff]
    if pl.arena is None:  # Go 1.22+: objects over 512 bytes with pointers have headers
        assert with_header > 20
        # Most headers are types the program's DWARF names (not: runtime-made map groups).
        assert named > with_header // 2, (named, with_header)
    else:
        assert with_header == 0
    assert len(slots.poff) > 10000

    # The values that differ are words of the dumping goroutine and of its thread.
    g, m = struct_type(types, "runtime.g"), struct_type(types, "runtime.m")
    g_m = next(o for n, o, _ in g.fields if n == "m")
    names = {}
    with open_core(str(corefile_run.core)) as core, \
            open_address_space(core, str(corefile_run.binary)) as space:
        descriptor_names = {headers[a]: _descriptor_name(space, binary.markers["runtime.types"],
                                                         headers[a])
                            for i, *_ in changed for a in [int(heap.addr[i])]
                            if bool(ix.header[at[i]])}
    for i, off, now, then in changed:
        a, size = int(heap.addr[i]), int(heap.size[i])
        hdr = MALLOC_HEADER_SIZE if bool(ix.header[at[i]]) else 0
        if hdr:  # runtime.allocm allocates an mPadded (an m, then padding): not in DWARF
            typed = descriptor_names[headers[a]]
            t = g if typed == "runtime.g" else m if typed in ("runtime.m", "runtime.mPadded") \
                else None
        else:
            t = next((t for t in (g, m) if t.size <= size < t.size + size // 8), None)
        assert t is not None, (f"object {a:#x} ({size} bytes) differs at {off}: {now:#x} "
                               f"in the core, {then:#x} in the dump")
        field = max((f for f in t.fields if f[1] <= off - hdr), key=lambda f: f[1])
        names[(a, off)] = (t.name, field[0], hdr)
    assert {v[:2] for v in names.values()} <= CHANGED_SINCE_DUMP, names
    # ... and they are the goroutine and thread pointing at each other in the dump.
    dumped = {(a, off): then for (i, off, _, then) in changed for a in [int(heap.addr[i])]}
    gs = [a for (a, off), v in names.items() if v[:2] == ("runtime.g", "m")]
    ms = {a: v[2] for (a, off), v in names.items() if v[:2] == ("runtime.m", "curg")}
    assert len(gs) <= 1 and len(ms) <= 1 and len(changed) <= 6, names
    if gs and ms:
        (ma, hdr), = ms.items()
        assert dumped[(gs[0], g_m)] == ma + hdr
        curg = next(o for n, o, _ in m.fields if n == "curg")
        assert dumped[(ma, hdr + curg)] == gs[0]


def _descriptor_name(space: AddressSpace, types_base: int, typ: int) -> str:
    """The name a runtime type descriptor gives itself (notes/go-binaries.md: Str is an offset
    from runtime.types to a flag byte, a varint length and the bytes; TFlag 2 adds a '*')."""
    raw = space.read(typ, 48)
    tflag, name_off = raw[20], int.from_bytes(raw[40:44], "little", signed=True)
    head = space.read(types_base + name_off, 11)
    length, shift, k = 0, 0, 1
    while True:
        length |= (head[k] & 0x7F) << shift
        shift, k = shift + 7, k + 1
        if not head[k - 1] & 0x80:
            break
    name = space.read(types_base + name_off + k, length).decode()
    return name[1:] if tflag & 2 and name.startswith("*") else name


def _global(types: GoTypes, space: AddressSpace, name: str, words: int = 1) -> list[int]:
    address = next(a for n, a, _ in types.globals if n == name)
    return [space.word(address + 8 * k) for k in range(words)]


def _expected(first: int, elem: int, ptr_words: list[int], limit: int) -> list[int]:
    """The runtime's tiling: element k at first + k*elem, each of its pointer words, while
    both start before the slot's end (typePointers.next)."""
    return sorted(o for k in range((limit - first + elem - 1) // elem)
                  for w in ptr_words if (o := first + k * elem + w) < limit)


def test_shapes(corefile_run, types, core_slots):
    """The objects of pointers.go have the slots their Go declarations say."""
    layout, pl, heap, slots, headers = core_slots
    heap_bits_in_span = pl.arena is None
    program = str(corefile_run.binary)
    with open_core(str(corefile_run.core)) as core, open_address_space(core, program) as space:
        def check(name: str, elem_type: str, elem: int, ptr_words: list[int], count: int, *,
                  large: bool = False, is_slice: bool = True) -> int:
            data = _global(types, space, name, 3 if is_slice else 1)
            if is_slice:
                assert data[1] == count
            header = heap_bits_in_span and elem * count > 512 and not large
            addr = data[0] - (MALLOC_HEADER_SIZE if header else 0)
            i = int(np.searchsorted(heap.addr, addr))
            assert int(heap.addr[i]) == addr, f"{name}: no object at {addr:#x}"
            size = int(heap.size[i])
            if large:
                assert size > 32768 and size % PAGE_SIZE == 0
            poff, pval = _slots(slots, i)
            first = MALLOC_HEADER_SIZE if header else 0
            if header:  # the element type's descriptor
                k = types.runtime[headers[addr]]
                assert types.types[k].name == elem_type, (name, types.types[k].name)
                assert types.types[types.resolve(k)].size == elem
            # Objects in spans tile to the slot's end; before Go 1.22 the bitmap says what the
            # allocation wrote: the elements asked for.
            limit = size if heap_bits_in_span else first + elem * count
            assert poff.tolist() == _expected(first, elem, ptr_words, limit), name
            return int(np.count_nonzero(pval))

        assert check("main.ptrsNodes", "main.Node", 32, [0, 8], 40) == 80
        mixed = [8, 24, 32, 40, 48]
        assert check("main.ptrsMixeds", "main.ptrsMixed", 56, mixed, 20) == 100
        assert check("main.ptrsSmall", "main.ptrsMixed", 56, mixed, 4) == 20
        assert check("main.ptrsIfaces", "interface {}", 16, [8], 100) == 67
        assert check("main.ptrsLarge", "main.Node", 32, [0, 8], 3000, large=True) == 429
        assert check("main.ptrsPtrs", "*main.Node", 8, [0], 9000, large=True) == 9000 - 9000 // 5
        assert check("main.ptrsBig", "main.ptrsHuge", 160008, list(range(8, 160008, 8)), 1,
                     large=True, is_slice=False) == 20000 // 11 + 1


class _Patched(AddressSpace):
    """An address space whose memory differs from the core's at a few places."""

    def __init__(self, space: AddressSpace, patches: dict[int, bytes]):
        self.__dict__.update(space.__dict__)
        self.patches = patches

    def read(self, address: int, n: int) -> bytes:
        out = bytearray(super().read(address, n))
        for at, data in self.patches.items():
            for k, b in enumerate(data):
                if address <= at + k < address + n:
                    out[at + k - address] = b
        return bytes(out)


def _corrupt(corefile_run, types, patch) -> tuple[PointerSlots | None, str | None]:
    """Pointer slots of the core with ``patch(space, heap, pl)``'s bytes written over it; or
    the one-line error they cause."""
    program = str(corefile_run.binary)
    layout = runtime_layout(program)
    pl = pointer_layout(program, layout, types)
    with open_core(str(corefile_run.core)) as core, open_address_space(core, program) as space:
        heap = heap_objects(space, layout)
        bad = _Patched(space, patch(space, heap, pl))
        try:
            return pointer_slots(bad, layout, pl, heap), None
        except CoreFileError as e:
            msg = str(e)
            assert "\n" not in msg and str(corefile_run.core) in msg, msg
            return None, msg


def _header_object(space, heap, pl) -> int:
    return next(int(a) for a, s in zip(heap.addr.tolist(), heap.size.tolist(), strict=True)
                if 512 < s <= 32768 and space.word(int(a)) > 0x1000)


def test_corrupt_malloc_header(corefile_run, types, core_slots):
    if core_slots[1].arena is not None:
        pytest.skip("Go 1.21 has no malloc headers")

    def unmapped(space, heap, pl):
        return {_header_object(space, heap, pl): (0xDEAD0000).to_bytes(8, "little")}

    _, msg = _corrupt(corefile_run, types, unmapped)
    assert msg and "0xdead0000" in msg

    def lying_type(space, heap, pl):
        a = _header_object(space, heap, pl)
        typ = space.word(a)
        # The type claims more pointer bytes than the slot holds.
        return {typ + pl.abi_type["PtrBytes"].offset: (1 << 40).to_bytes(8, "little"),
                typ + pl.abi_type["Size_"].offset: (1 << 41).to_bytes(8, "little")}

    _, msg = _corrupt(corefile_run, types, lying_type)
    assert msg and "does not describe an object" in msg


@pytest.mark.parametrize("pages, says", [(1 << 50, "is not a span"),
                                         (None, "is not all in the core")])
def test_corrupt_span(corefile_run, types, core_slots, pages, says):
    """The highest span (made one with pointers) claims more pages: past the core's size, or
    past the memory the core holds."""
    layout, _, heap, _, _ = core_slots

    def huge_span(space, heap, pl):
        hdr = space.read(layout.mheap + layout.allspans.offset, 16)
        array, length = (int.from_bytes(hdr[k:k + 8], "little") for k in (0, 8))
        spans = np.frombuffer(space.read(array, 8 * length), "<u8").tolist()
        f = pl.mspan
        used = [p for p in spans if space.read(p + f["state"].offset, 1)[0] == 1]
        top = max(used, key=lambda p: space.word(p + f["startAddr"].offset))
        n = pages or space.core.size // PAGE_SIZE // 2
        spanclass = space.read(top + f["spanclass"].offset, 1)[0] & ~1  # one with pointers
        return {top + f["npages"].offset: n.to_bytes(f["npages"].size, "little"),
                top + f["spanclass"].offset: bytes([spanclass])}

    _, msg = _corrupt(corefile_run, types, huge_span)
    assert msg and says in msg, msg


def test_corrupt_arena_map(corefile_run, types, core_slots):
    if core_slots[1].arena is None:
        pytest.skip("the arena bitmap is Go 1.21's")

    def no_arena(space, heap, pl):
        return {pl.arena.arenas: bytes(8)}  # mheap_.arenas[0]: no L2 map

    _, msg = _corrupt(corefile_run, types, no_arena)
    assert msg and "in no heap arena" in msg


def test_mask_not_built_yet(corefile_run, types, core_slots):
    """A type whose GC mask the runtime builds on first use (Go 1.24+, over 128 KiB of
    pointers) and has not built: its objects are listed without slots and counted."""
    layout, pl, heap, slots, _ = core_slots
    if not pl.mask_on_demand:
        pytest.skip("GC masks built on demand are Go 1.24+")
    program = str(corefile_run.binary)
    with open_core(str(corefile_run.core)) as core, open_address_space(core, program) as space:
        big = _global(types, space, "main.ptrsBig")[0]

    def unbuilt(space, heap, pl):
        hdr = space.read(layout.mheap + layout.allspans.offset, 16)
        array, length = (int.from_bytes(hdr[k:k + 8], "little") for k in (0, 8))
        for p in np.frombuffer(space.read(array, 8 * length), "<u8").tolist():
            if space.word(p + pl.mspan["startAddr"].offset) == big:
                typ = space.word(p + pl.mspan["largeType"].offset)
                return {space.word(typ + pl.abi_type["GCData"].offset): bytes(8)}
        raise AssertionError("no span of main.ptrsBig")

    got, msg = _corrupt(corefile_run, types, unbuilt)
    assert msg is None and got is not None
    assert got.untyped == 1
    i = int(np.searchsorted(heap.addr, big))
    assert got.pstart[i + 1] == got.pstart[i]
    held = int(slots.pstart[i + 1] - slots.pstart[i])
    assert held >= 20000 and len(got.poff) == len(slots.poff) - held


def test_no_more_pointers(corefile_run, types, core_slots):
    """Go 1.21: past the bitmap word whose noMorePtrs bit is set, an object's bits are not
    read (the runtime keeps them zero; here they are set, and ignored as the runtime would)."""
    layout, pl, heap, slots, _ = core_slots
    if pl.arena is None:
        pytest.skip("the arena bitmap is Go 1.21's")
    ab = pl.arena
    program = str(corefile_run.binary)
    with open_core(str(corefile_run.core)) as core, open_address_space(core, program) as space:
        big = _global(types, space, "main.ptrsBig")[0]
        idx = (big - ARENA_BASE_OFFSET) % (1 << 64) // ab.arena_bytes
        arena = space.word(space.word(ab.arenas) + 8 * idx)
        word = big // 8 % (ab.arena_bytes // 8)
        flags = np.unpackbits(np.frombuffer(space.read(arena + ab.no_more_ptrs + word // 512,
                                                       40), np.uint8), bitorder="little")
    i = int(np.searchsorted(heap.addr, big))
    size = int(heap.size[i])
    marked = np.nonzero(flags[word // 64 % 8:word // 64 % 8 + size // 512])[0]
    assert len(marked) and marked[0] < size // 512 - 1  # the object goes on past the mark
    junk_from = big // 8 % (ab.arena_bytes // 8) // 64 + int(marked[0]) + 1  # bitmap words
    junk_to = (big + size) // 8 % (ab.arena_bytes // 8) // 64

    def junk(space, heap, pl):
        return {arena + ab.bitmap + 8 * junk_from: b"\xff" * 8 * (junk_to - junk_from)}

    got, msg = _corrupt(corefile_run, types, junk)
    assert msg is None and got is not None
    assert np.array_equal(got.pstart, slots.pstart) and np.array_equal(got.poff, slots.poff)
