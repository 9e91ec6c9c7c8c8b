"""The Go heap in a core: every allocated object (address, size), found as the runtime's garbage
collector finds it.

``runtime.mheap_`` is found by the program's ELF symbol; the layouts of ``runtime.mheap`` and
``runtime.mspan`` (field offsets and sizes, which change between releases: ``nelems`` and
``freeindex`` were ``uintptr`` in Go 1.21 and are ``uint16`` since 1.22) come from the program's
DWARF through the names stage's reader. ``mheap_.allspans`` lists every span; in each span in
use, slot ``i`` (of ``nelems``) holds an object when ``i < freeindex`` or bit ``i`` of
``allocBits`` is set: ``mspan.isFree`` negated, what ``runtime.dumpobjs`` uses, so the objects
are the dump's without its phantoms (dumpobjs also walks the slots past ``nelems``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heapspurs.core.elf_core import open_core
from heapspurs.core.errors import CoreFileError
from heapspurs.core.memory import AddressSpace, open_address_space
from heapspurs.names.dwarf_types import GoTypes, load_types
from heapspurs.names.elf_binary import Binary, read_binary

PAGE_SIZE = 8192  # runtime._PageSize: 8 KiB on every release and platform
# runtime.mSpanInUse (mSpanDead 0, mSpanInUse 1, mSpanManual 2 since Go 1.12). The program's
# DWARF carries it as a DW_TAG_constant, which the names stage's readers do not return yet.
MSPAN_IN_USE = 1
MHEAP_SYMBOL = "runtime.mheap_"
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


def _uint(raw: bytes, f: Field) -> int:
    return int.from_bytes(raw[f.offset:f.offset + f.size], "little")


def heap_objects(space: AddressSpace, layout: RuntimeLayout) -> HeapObjects:
    """Every allocated object of the heap in ``space``, sorted by address."""
    where = space.core.path
    hdr = space.read(layout.mheap + layout.allspans.offset, 24)
    array, length, cap = (int.from_bytes(hdr[k:k + 8], "little") for k in (0, 8, 16))
    if length > cap or length * 8 > space.core.size:
        raise CoreFileError(f"{where}: runtime.mheap_.allspans has length {length} and "
                            f"capacity {cap}: not the heap of this program, or a corrupt core")
    spans = np.frombuffer(space.read(array, length * 8), "<u8") if length else []
    f = layout.mspan
    addrs, sizes = [], []
    in_use = 0
    for p in spans.tolist() if length else []:
        raw = space.read(p, layout.mspan_size)
        if raw[f["state"].offset] != MSPAN_IN_USE:
            continue
        in_use += 1
        start, npages, elemsize = (_uint(raw, f[k]) for k in ("startAddr", "npages", "elemsize"))
        nelems, freeindex, bits_at = (_uint(raw, f[k]) for k in ("nelems", "freeindex",
                                                                   "allocBits"))
        if (elemsize == 0 or npages == 0 or nelems * elemsize > npages * PAGE_SIZE
                or freeindex > nelems):
            raise CoreFileError(f"{where}: the span at {p:#x} ({npages} pages from "
                                f"{start:#x}, {nelems} objects of {elemsize} bytes, free index "
                                f"{freeindex}) is not a span: a corrupt core or another program")
        if nelems == 0:
            continue
        bits = np.frombuffer(space.read(bits_at, (nelems + 7) // 8), np.uint8)
        used = np.unpackbits(bits, bitorder="little")[:nelems].astype(bool)
        used[:freeindex] = True
        slots = np.nonzero(used)[0].astype(np.uint64)
        addrs.append(np.uint64(start) + slots * np.uint64(elemsize))
        sizes.append(np.full(len(slots), elemsize, np.uint64))
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
