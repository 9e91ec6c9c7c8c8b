"""The Go heap in a core: every allocated object (address, size), found as the runtime's garbage
collector finds it.

``runtime.mheap_`` is found by the program's ELF symbol; the layouts of ``runtime.mheap`` and
``runtime.mspan`` (field offsets and sizes, which change between releases: ``nelems`` and
``freeindex`` were ``uintptr`` in Go 1.21 and are ``uint16`` since 1.22) come from the program's
DWARF through the names stage's reader. ``mheap_.allspans`` lists every span; in each span in
use, slot ``i`` (of ``nelems``) holds an object when ``i < freeindex`` or bit ``i`` of
``allocBits`` is set: ``mspan.isFree`` negated, what ``runtime.dumpobjs`` uses, so the objects
are the dump's without its phantoms (dumpobjs also walks the slots past ``nelems``).

The spans are read all at once, their structs and allocation bits gathered from the core file's
mmap with numpy (:mod:`heapspurs.core.gather`) and their slots worked out a group of spans at a
time; :mod:`heapspurs.core.pointers` reads them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heapspurs.core.elf_core import open_core
from heapspurs.core.errors import CoreFileError
from heapspurs.core.gather import Gather
from heapspurs.core.memory import AddressSpace, open_address_space
from heapspurs.names.dwarf_types import GoTypes, load_types
from heapspurs.names.elf_binary import Binary, read_binary

PAGE_SIZE = 8192  # runtime._PageSize: 8 KiB on every release and platform
# runtime.mSpanInUse (mSpanDead 0, mSpanInUse 1, mSpanManual 2 since Go 1.12). The program's
# DWARF carries it as a DW_TAG_constant, which the names stage's readers do not return yet.
MSPAN_IN_USE = 1
MHEAP_SYMBOL = "runtime.mheap_"
CHUNK = 1 << 18  # slots (objects, pointer words) worked out at once: bounds the temporaries
MSPAN_FIELDS = ("startAddr", "npages", "elemsize", "spanclass", "nelems", "freeindex",
                "allocBits", "state")


@dataclass(frozen=True)
class Field:
    offset: int
    size: int


@dataclass(frozen=True)
class RuntimeLayout:
    """Where the heap's bookkeeping is, in one program."""

    go_version: str | None
    mheap: int  # address of runtime.mheap_
    allspans: Field  # mheap.allspans, a []*mspan
    mspan_size: int
    mspan: dict[str, Field]  # MSPAN_FIELDS -> offset and size in runtime.mspan


@dataclass
class HeapObjects:
    """The allocated objects, sorted by address, and what the walk saw."""

    addr: np.ndarray  # uint64
    size: np.ndarray  # uint64: the span's element size, as the dump gives it
    spans: int  # spans listed in allspans
    spans_in_use: int


def struct_type(types: GoTypes, name: str, program: str) -> int:
    """The index of the struct type ``name`` (its typedef followed)."""
    for i, t in enumerate(types.types):
        if t.name == name:
            j = types.resolve(i)
            if j >= 0 and types.types[j].tag == "struct":
                return j
    raise CoreFileError(f"{program}: its DWARF has no struct {name}: not a Go program, or "
                        "built without DWARF (-ldflags=-w)")


def struct_fields(types: GoTypes, struct: int, names: tuple[str, ...], program: str
            ) -> dict[str, Field]:
    t = types.types[struct]
    have = {}
    for fname, offset, ftype in t.fields:
        if fname in names:
            r = types.resolve(ftype)
            size = types.types[r].size if r >= 0 else 0
            have[fname] = Field(offset, size)
    missing = [n for n in names if n not in have]
    if missing:
        raise CoreFileError(f"{program}: {t.name} in its DWARF has no field "
                            f"{', '.join(missing)}: a Go release heapspurs does not read")
    bad = [n for n, f in have.items() if f.size not in (1, 2, 4, 8, 24)
           or f.offset + f.size > t.size]
    if bad:
        raise CoreFileError(f"{program}: {t.name}'s fields {', '.join(bad)} have sizes or "
                            "offsets outside the struct in its DWARF: corrupt DWARF")
    return have


def runtime_layout(program: str, binary: Binary | None = None) -> RuntimeLayout:
    """The runtime's heap layout in ``program`` (a :class:`CoreFileError` naming it when it
    is not a Go program with symbols and DWARF)."""
    binary = binary or read_binary(program)
    mheap = None
    for i, label in enumerate(binary.symbols.labels):
        if label == MHEAP_SYMBOL:
            rows = np.nonzero(binary.symbols.ids == i)[0]
            if len(rows):
                mheap = int(binary.symbols.starts[rows[0]])
            break
    if mheap is None:
        if binary.go_version is None:
            what = f"not a Go program (no Go build info, no symbol {MHEAP_SYMBOL})"
        elif binary.stripped:
            what = "a stripped Go program (no symbol table): heapspurs needs its symbols"
        else:
            what = f"a Go program without the symbol {MHEAP_SYMBOL}"
        raise CoreFileError(f"{program}: {what}")
    types = load_types(program, pcs=np.zeros(0, np.uint64))
    mheap_t = struct_type(types, "runtime.mheap", program)
    mspan_t = struct_type(types, "runtime.mspan", program)
    allspans = struct_fields(types, mheap_t, ("allspans",), program)["allspans"]
    if allspans.size != 24:
        raise CoreFileError(f"{program}: runtime.mheap.allspans is {allspans.size} bytes, "
                            "not a slice")
    return RuntimeLayout(binary.go_version, mheap, allspans, types.types[mspan_t].size,
                         struct_fields(types, mspan_t, MSPAN_FIELDS, program))


def column(raw: np.ndarray, f: Field) -> np.ndarray:
    """Field ``f`` of each row of ``raw`` (structs as a (rows, struct size) uint8 array), as
    uint64."""
    return np.ascontiguousarray(raw[:, f.offset:f.offset + f.size]).view(
        f"<u{f.size}").ravel().astype(np.uint64)


def span_structs(space: AddressSpace, layout: RuntimeLayout, gather: Gather
                 ) -> tuple[np.ndarray, np.ndarray, int]:
    """(the mspan pointers of ``mheap_.allspans``, their structs as a (spans, mspan size)
    uint8 array, the slice's length), read all at once."""
    where = space.core.path
    hdr = space.read(layout.mheap + layout.allspans.offset, 24)
    array, length, cap = (int.from_bytes(hdr[k:k + 8], "little") for k in (0, 8, 16))
    if length > cap or length * 8 > space.core.size:
        raise CoreFileError(f"{where}: runtime.mheap_.allspans has length {length} and "
                            f"capacity {cap}: not the heap of this program, or a corrupt core")
    ptrs = np.frombuffer(space.read(array, length * 8), "<u8") if length else np.zeros(
        0, np.uint64)
    return ptrs, gather.fixed(ptrs, layout.mspan_size), length


def heap_objects(space: AddressSpace, layout: RuntimeLayout) -> HeapObjects:
    """Every allocated object of the heap in ``space``, sorted by address."""
    where = space.core.path
    gather = Gather(space)
    ptrs, raw, length = span_structs(space, layout, gather)
    f = layout.mspan
    use = raw[:, f["state"].offset] == MSPAN_IN_USE
    in_use = int(use.sum())
    ptrs, raw = ptrs[use], raw[use]
    start, npages, elemsize, nelems, freeindex, bits_at = (column(raw, f[k]) for k in (
        "startAddr", "npages", "elemsize", "nelems", "freeindex", "allocBits"))
    o = [a.astype(object) for a in (elemsize, npages, nelems, freeindex)]  # no overflow
    bad = ((elemsize == 0) | (npages == 0) | (o[2] * o[0] > o[1] * PAGE_SIZE).astype(bool)
           | (freeindex > nelems))
    if bad.any():
        k = int(np.argmax(bad))
        raise CoreFileError(f"{where}: the span at {int(ptrs[k]):#x} ({int(npages[k])} pages "
                            f"from {int(start[k]):#x}, {int(nelems[k])} objects of "
                            f"{int(elemsize[k])} bytes, free index {int(freeindex[k])}) is not "
                            "a span: a corrupt core or another program")
    keep = nelems > 0
    start, elemsize, nelems, freeindex, bits_at = (a[keep] for a in (
        start, elemsize, nelems, freeindex, bits_at))
    addrs, sizes = [], []
    cum = np.cumsum(nelems.astype(np.int64))
    lo = 0
    while lo < len(nelems):  # spans in groups of about CHUNK slots: bounds the arrays' memory
        done = int(cum[lo - 1]) if lo else 0
        hi = max(lo + 1, int(np.searchsorted(cum, done + CHUNK, "right")))
        ne = nelems[lo:hi].astype(np.int64)
        bits, bstart = gather.ranges(bits_at[lo:hi], (ne + 7) // 8)
        unpacked = np.unpackbits(bits, bitorder="little")
        slot = np.arange(int(ne.sum())) - np.repeat(np.cumsum(ne) - ne, ne)
        used = unpacked[np.repeat(bstart[:-1] * 8, ne) + slot].astype(bool)
        used |= slot < np.repeat(freeindex[lo:hi].astype(np.int64), ne)
        size = np.repeat(elemsize[lo:hi], ne)
        addrs.append((np.repeat(start[lo:hi], ne) + slot.astype(np.uint64) * size)[used])
        sizes.append(size[used])
        lo = hi
    addr = np.concatenate(addrs) if addrs else np.zeros(0, np.uint64)
    size = np.concatenate(sizes) if sizes else np.zeros(0, np.uint64)
    order = np.argsort(addr, kind="stable")
    addr, size = addr[order], size[order]
    if len(addr) > 1 and np.any(addr[1:] < addr[:-1] + size[:-1]):
        raise CoreFileError(f"{where}: spans in runtime.mheap_.allspans overlap: a corrupt core")
    return HeapObjects(addr, size, int(length), in_use)


def core_heap(core_path: str, program: str) -> tuple[RuntimeLayout, HeapObjects]:
    """The heap of the core file at ``core_path`` taken of ``program``; a ValueError naming the
    file (:class:`CoreFileError`, or the names stage's ``BinaryError``) when either is not
    usable."""
    with open_core(core_path) as core:
        layout = runtime_layout(program)
        with open_address_space(core, program) as space:
            return layout, heap_objects(space, layout)
