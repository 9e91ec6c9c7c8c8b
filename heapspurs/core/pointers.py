"""The pointer slots of every allocated object in a core: which words of each object the garbage
collector treats as pointers, and the values those words hold.

Where the runtime keeps that, per release (linux/amd64, 8-byte words):

- Go 1.20–1.21 (``runtime.heapArena`` has ``bitmap`` and ``noMorePtrs``): one bit per heap word
  in the heap arena's ``bitmap``, little-endian words; bit ``k`` of ``noMorePtrs`` says that the
  object holding the last word of bitmap word ``k`` has no pointers past it. An object's slots
  are its set bits up to the end of the first bitmap word so marked (``heapBitsForAddr``).
- Go 1.22 on (``runtime.mspan`` has ``largeType``): spans of objects of at most 512 bytes keep
  one bit per word of the whole span at its end (``mspan.heapBits``), before the Green Tea GC's
  ``spanInlineMarkBits`` when the span uses them (Go 1.25 with GOEXPERIMENT=greenteagc, 1.26 on
  by default: objects of 16..512 bytes). Larger objects in small spans start with a malloc header,
  their ``*abi.Type``; large objects (a span of their own) have it in ``mspan.largeType``. The
  type's pointer mask (``GCData``; from Go 1.24 a pointer to a mask the runtime builds on first
  use when ``TFlagGCMaskOnDemand``) is tiled from the first word after the header every
  ``Size_`` bytes to the end of the slot (``typePointers.next``).
- Noscan spans (the low bit of ``spanclass``) hold no pointers.

Layouts (``runtime.mspan``, ``runtime.heapArena``, ``runtime.mheap.arenas``, ``internal/abi.Type``,
``runtime.spanInlineMarkBits``) come from the program's DWARF; constants DWARF does not carry are
named below with the runtime source they come from. Offsets are from the slot start, as the heap
dump gives them: an object with a malloc header has its slots at 8 and past, never at 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from heapspurs.core.elf_core import open_core
from heapspurs.core.errors import CoreFileError, UnmappedAddress
from heapspurs.core.gather import Gather
from heapspurs.core.heap import (
    CHUNK,
    MSPAN_IN_USE,
    PAGE_SIZE,
    Field,
    HeapObjects,
    RuntimeLayout,
    column,
    heap_objects,
    runtime_layout,
    span_structs,
    struct_fields,
    struct_type,
)
from heapspurs.core.memory import AddressSpace, open_address_space
from heapspurs.names.dwarf_types import GoTypes, load_types

WORD = 8  # goarch.PtrSize on linux/amd64, the only platform the core reader reads
# runtime/mheap.go spanClass: sizeclass<<1 | noscan; size class 0 is a large object's span.
SPAN_CLASS_NOSCAN = 1
# runtime/mbitmap.go minSizeForMallocHeader (internal/runtime/gc MinSizeForMallocHeader from
# Go 1.26): goarch.PtrSize * ptrBits; objects up to this size keep their bits in the span.
MIN_SIZE_FOR_MALLOC_HEADER = WORD * 8 * WORD
MALLOC_HEADER_SIZE = 8  # runtime/mbitmap.go mallocHeaderSize (gc.MallocHeaderSize from 1.26)
# runtime/mgcmark_greenteagc.go gcUsesSpanInlineMarkBits: heapBitsInSpan(size) && size >= 16.
MIN_SIZE_FOR_INLINE_MARK_BITS = 16
# internal/abi/type.go TFlagGCMaskOnDemand (Go 1.24 on; the same bit was TFlagUnrolledBitmap in
# 1.22-1.23, where GCData is the mask itself): GCData points to a pointer to the mask.
TFLAG_GC_MASK_ON_DEMAND = 1 << 4
GC_MASK_ON_DEMAND_SINCE = (1, 24)  # runtime/type.go getGCMask
# runtime/malloc.go arenaBaseOffset on linux/amd64: arenaIndex(p) = (p - it) / heapArenaBytes.
ARENA_BASE_OFFSET = 0xFFFF800000000000
WINDOW = 1 << 24  # bytes of a large object read at once for its pointer values
MSPAN_POINTER_FIELDS = ("startAddr", "npages", "elemsize", "spanclass", "state")
ABI_TYPE_FIELDS = ("Size_", "PtrBytes", "TFlag", "GCData")


@dataclass(frozen=True)
class ArenaBitmap:
    """Go 1.21's heap bitmap: ``mheap_.arenas[l1][l2]`` -> ``heapArena``."""

    arenas: int  # address of mheap_.arenas
    l1: int  # entries of the L1 array
    l2: int  # entries of each L2 array
    arena_bytes: int  # heapArenaBytes: bitmap words * 64 words * 8 bytes
    bitmap: int  # offset of heapArena.bitmap
    no_more_ptrs: int  # offset of heapArena.noMorePtrs


@dataclass(frozen=True)
class PointerLayout:
    """Where one program's runtime keeps the heap's pointer bits."""

    mspan: dict[str, Field]  # MSPAN_POINTER_FIELDS, and largeType from Go 1.22
    arena: ArenaBitmap | None  # Go 1.21 (and 1.20): the arenas' bitmap
    abi_type: dict[str, Field] | None  # Go 1.22 on: ABI_TYPE_FIELDS of internal/abi.Type
    abi_type_size: int
    mask_on_demand: bool  # TFlagGCMaskOnDemand means what it says (Go 1.24 on)
    inline_mark_bits: int  # sizeof(runtime.spanInlineMarkBits): 0 without the Green Tea GC


@dataclass
class PointerSlots:
    """Each object's pointer slots, CSR like the index's: object ``i`` (of ``heap.addr``) has
    slots ``poff[pstart[i]:pstart[i+1]]`` (bytes from its address, ascending) holding
    ``pval[...]``."""

    pstart: np.ndarray  # int64, one more than the objects
    poff: np.ndarray  # uint64
    pval: np.ndarray  # uint64
    untyped: int  # objects whose type's pointer mask is not in memory: listed without slots


def _go_release(version: str | None) -> tuple[int, int]:
    m = re.match(r"go(\d+)\.(\d+)", version or "")
    return (int(m.group(1)), int(m.group(2))) if m else (1, 99)  # unknown: the newest


def _members(types: GoTypes, struct: int) -> dict[str, tuple[int, int]]:
    """A struct's fields: name -> (offset, type index with typedefs followed)."""
    return {n: (o, types.resolve(t)) for n, o, t in types.types[struct].fields}


def _array_of_pointers_to(types: GoTypes, t: int) -> tuple[int, int]:
    """(length, pointee type) of a ``[N]*T`` type; (0, -1) when it is not one."""
    a = types.types[t] if t >= 0 else None
    if a is None or a.tag != "array":
        return 0, -1
    p = types.resolve(a.target)
    if p < 0 or types.types[p].tag != "pointer":
        return 0, -1
    return a.count, types.resolve(types.types[p].target)


def _arena_bitmap(types: GoTypes, layout: RuntimeLayout, program: str) -> ArenaBitmap | None:
    arena = struct_type(types, "runtime.heapArena", program)
    have = _members(types, arena)
    if "bitmap" not in have or "noMorePtrs" not in have:
        return None
    mheap = _members(types, struct_type(types, "runtime.mheap", program))
    l1, inner = _array_of_pointers_to(types, mheap.get("arenas", (0, -1))[1])
    l2, target = _array_of_pointers_to(types, inner)
    words = types.types[have["bitmap"][1]]
    if not (l1 and l2 and target == arena and words.tag == "array" and words.count):
        raise CoreFileError(f"{program}: runtime.mheap.arenas or runtime.heapArena.bitmap in "
                            "its DWARF is not laid out as Go 1.20-1.21 lay it: corrupt DWARF")
    return ArenaBitmap(layout.mheap + mheap["arenas"][0], l1, l2, words.count * 64 * WORD,
                       have["bitmap"][0], have["noMorePtrs"][0])


def pointer_layout(program: str, layout: RuntimeLayout, types: GoTypes | None = None
                   ) -> PointerLayout:
    """Where ``program``'s runtime keeps its heap's pointer bits, from its DWARF."""
    types = types or load_types(program, pcs=np.zeros(0, np.uint64))
    mspan_t = struct_type(types, "runtime.mspan", program)
    arena = _arena_bitmap(types, layout, program)
    if arena is not None:
        return PointerLayout(struct_fields(types, mspan_t, MSPAN_POINTER_FIELDS, program), arena,
                             None, 0, False, 0)
    mspan = struct_fields(types, mspan_t, (*MSPAN_POINTER_FIELDS, "largeType"), program)
    abi_t = struct_type(types, "internal/abi.Type", program)
    inline = 0
    for t in types.types:
        if t.name == "runtime.spanInlineMarkBits" and t.tag == "struct":
            inline = t.size
    return PointerLayout(mspan, None, struct_fields(types, abi_t, ABI_TYPE_FIELDS, program),
                         types.types[abi_t].size,
                         _go_release(layout.go_version) >= GC_MASK_ON_DEMAND_SINCE, inline)


def _uint(raw: bytes, f: Field) -> int:
    return int.from_bytes(raw[f.offset:f.offset + f.size], "little")


@dataclass(frozen=True)
class _Span:
    start: int
    npages: int
    elemsize: int
    spanclass: int
    large_type: int


@dataclass
class _SpanArrays:
    """The spans in use, sorted by start address, one array per field (uint64)."""

    start: np.ndarray
    npages: np.ndarray
    elemsize: np.ndarray
    spanclass: np.ndarray
    large_type: np.ndarray

    def span(self, i: int) -> _Span:
        return _Span(int(self.start[i]), int(self.npages[i]), int(self.elemsize[i]),
                     int(self.spanclass[i]), int(self.large_type[i]))


def _spans(space: AddressSpace, layout: RuntimeLayout, pl: PointerLayout, gather: Gather
           ) -> _SpanArrays:
    """The spans in use, sorted by start address, read all at once."""
    where = space.core.path
    ptrs, raw, _ = span_structs(space, layout, gather)
    f = pl.mspan
    use = raw[:, f["state"].offset] == MSPAN_IN_USE
    ptrs, raw = ptrs[use], raw[use]
    start, npages, elemsize, spanclass = (column(raw, f[k]) for k in (
        "startAddr", "npages", "elemsize", "spanclass"))
    large = column(raw, f["largeType"]) if "largeType" in f else np.zeros(len(raw), np.uint64)
    o = [a.astype(object) for a in (npages, elemsize)]  # no overflow
    bad = ((elemsize == 0) | (npages == 0) | (o[0] * PAGE_SIZE > space.core.size).astype(bool)
           | (o[1] > o[0] * PAGE_SIZE).astype(bool))
    if bad.any():
        k = int(np.argmax(bad))
        raise CoreFileError(f"{where}: the span at {int(ptrs[k]):#x} ({int(npages[k])} pages "
                            f"from {int(start[k]):#x}, objects of {int(elemsize[k])} bytes) is "
                            "not a span: a corrupt core or another program")
    order = np.argsort(start, kind="stable")
    return _SpanArrays(start[order], npages[order], elemsize[order], spanclass[order],
                       large[order])


class _Types:
    """Pointer offsets of the objects typed by an ``*abi.Type`` (a malloc header or
    ``largeType``), tiled as ``typePointers`` tiles them; one read per type and slot size."""

    def __init__(self, space: AddressSpace, pl: PointerLayout):
        self.space, self.pl = space, pl
        self.tiles: dict[tuple[int, int, int], np.ndarray | None] = {}

    def mask(self, typ: int, limit: int) -> tuple[int, np.ndarray] | None:
        """(Size_, byte offsets of the pointer words in one element); None when the mask is
        built on demand and has not been yet."""
        assert self.pl.abi_type is not None
        where = self.space.core.path
        raw = self.space.read(typ, self.pl.abi_type_size)
        size, ptr_bytes, tflag, gcdata = (_uint(raw, self.pl.abi_type[k])
                                          for k in ABI_TYPE_FIELDS)
        if (ptr_bytes == 0 or size == 0 or ptr_bytes > size or ptr_bytes > limit
                or size % WORD or ptr_bytes % WORD or gcdata == 0):
            raise CoreFileError(f"{where}: the type descriptor at {typ:#x} (size {size}, "
                                f"{ptr_bytes} pointer bytes, mask at {gcdata:#x}) does not "
                                f"describe an object of {limit} bytes with pointers: a "
                                "corrupt core or another program")
        if self.pl.mask_on_demand and tflag & TFLAG_GC_MASK_ON_DEMAND:
            gcdata = self.space.word(gcdata)
            if gcdata == 0:
                return None
        words = ptr_bytes // WORD
        bits = np.unpackbits(np.frombuffer(self.space.read(gcdata, (words + 7) // 8), np.uint8),
                             bitorder="little")[:words]
        return size, np.nonzero(bits)[0].astype(np.uint64) * np.uint64(WORD)

    def tile(self, typ: int, first: int, limit: int) -> np.ndarray | None:
        """The slot offsets in ``[first, limit)`` of elements of ``typ`` laid from ``first``."""
        key = (typ, first, limit)
        if key not in self.tiles:
            got = self.mask(typ, limit - first)
            if got is None:
                self.tiles[key] = None
            else:
                size, ptrs = got
                starts = np.arange(first, limit, size, dtype=np.uint64)
                offs = (starts[:, None] + ptrs[None, :]).ravel()
                self.tiles[key] = offs[offs < np.uint64(limit)]
        return self.tiles[key]


class _Arenas:
    """Go 1.21's heap bitmap for a range of the heap, from the arenas holding it."""

    def __init__(self, space: AddressSpace, ab: ArenaBitmap):
        self.space, self.ab = space, ab
        self.l2_shift = (ab.l2 - 1).bit_length()
        self.l2_arrays: dict[int, int] = {}

    def _arena(self, address: int) -> int:
        idx = ((address - ARENA_BASE_OFFSET) % (1 << 64)) // self.ab.arena_bytes
        l1, l2 = (idx >> self.l2_shift if self.ab.l1 > 1 else 0), idx % self.ab.l2
        if l1 >= self.ab.l1:
            raise CoreFileError(f"{self.space.core.path}: the heap address {address:#x} is "
                                "outside the runtime's arena map: a corrupt core")
        if l1 not in self.l2_arrays:
            self.l2_arrays[l1] = self.space.word(self.ab.arenas + l1 * WORD)
        arena = self.space.word(self.l2_arrays[l1] + l2 * WORD) if self.l2_arrays[l1] else 0
        if arena == 0:
            raise CoreFileError(f"{self.space.core.path}: the heap address {address:#x} is in "
                                "no heap arena the runtime knows: a corrupt core")
        return arena

    def bits(self, start: int, nbytes: int) -> tuple[np.ndarray, np.ndarray]:
        """For ``nbytes`` (a multiple of 512) from ``start`` (512-aligned): one bool per word
        (a pointer?) and one per 64 words (``noMorePtrs``)."""
        bits, nomore = [], []
        address, end = start, start + nbytes
        while address < end:
            arena = self._arena(address)
            word = address // WORD % (self.ab.arena_bytes // WORD)
            take = min(end - address, self.ab.arena_bytes - word * WORD)
            raw = self.space.read(arena + self.ab.bitmap + word // 8, take // WORD // 8)
            bits.append(np.unpackbits(np.frombuffer(raw, np.uint8), bitorder="little"))
            group = word // 64
            raw = self.space.read(arena + self.ab.no_more_ptrs + group // 8,
                                  (group % 8 + take // WORD // 64 + 7) // 8)
            flags = np.unpackbits(np.frombuffer(raw, np.uint8), bitorder="little")
            nomore.append(flags[group % 8:group % 8 + take // WORD // 64])
            address += take
        return np.concatenate(bits).astype(bool), np.concatenate(nomore).astype(bool)


class _WholeArenas:
    """Go 1.21's heap bitmap of whole heap arenas, read once each: the bitmap's bytes and, per
    64-word group, the first group at or after it marked ``noMorePtrs``, concatenated over
    the arenas (arena ``k``'s words from ``k * words``)."""

    def __init__(self, arenas: _Arenas, starts: list[int]):
        ab = arenas.ab
        self.words = ab.arena_bytes // WORD
        groups = self.words // 64
        self.index = {a: k for k, a in enumerate(starts)}
        packed, marks = [], []
        for k, a in enumerate(starts):
            arena = arenas._arena(a)
            packed.append(np.frombuffer(arenas.space.read(arena + ab.bitmap, self.words // 8),
                                        np.uint8))
            flags = np.unpackbits(np.frombuffer(arenas.space.read(
                arena + ab.no_more_ptrs, (groups + 7) // 8), np.uint8), bitorder="little")
            marked = np.where(flags[:groups].astype(bool), np.arange(groups), groups)
            marks.append(np.minimum.accumulate(marked[::-1])[::-1] + k * groups)
        self.packed = np.concatenate(packed) if packed else np.zeros(0, np.uint8)
        self.next_marked = np.concatenate(marks) if marks else np.zeros(0, np.int64)

    def slots(self, w: np.ndarray, nw: int) -> tuple[np.ndarray, np.ndarray]:
        """(counts, offsets) of objects of ``nw`` words from the (concatenated) words ``w``:
        their set bits up to the end of the first group marked noMorePtrs."""
        end = np.minimum(w + nw, (self.next_marked[w // 64] + 1) * 64) - w
        words = w[:, None] + np.arange(nw)[None, :]
        bits = (self.packed[words >> 3] >> (words & 7).astype(np.uint8)) & 1
        return _rows(bits.astype(bool) & (np.arange(nw)[None, :] < end[:, None]))


def _rows(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of a (objects, words) bool matrix: how many are set, and the set columns."""
    rows, cols = np.nonzero(mask)
    return np.bincount(rows, minlength=mask.shape[0]), cols.astype(np.uint64) * np.uint64(WORD)


def _span_slots(space: AddressSpace, pl: PointerLayout, span: _Span, addr: np.ndarray,
                types: _Types, arenas: _Arenas | None
                ) -> tuple[np.ndarray, np.ndarray, int]:
    """(slot counts per object, slot offsets, objects left untyped) for the objects at
    ``addr`` (allocated, sorted) of one scan span."""
    n = len(addr)
    size = span.elemsize
    nw = size // WORD
    slot = ((addr - np.uint64(span.start)) // np.uint64(size)).astype(np.int64)
    span_bytes = span.npages * PAGE_SIZE
    if arenas is not None:  # Go 1.21: the arena bitmap, cut by noMorePtrs
        bits, nomore = arenas.bits(span.start, span_bytes)
        groups = len(nomore)
        marked = np.where(nomore, np.arange(groups), groups)
        next_marked = np.minimum.accumulate(marked[::-1])[::-1]
        w0 = slot * nw
        end = np.minimum(w0 + nw, (next_marked[w0 // 64] + 1) * 64) - w0
        words = w0[:, None] + np.arange(nw)[None, :]
        counts, poff = _rows(bits[words] & (np.arange(nw)[None, :] < end[:, None]))
        return counts, poff, 0
    if size <= MIN_SIZE_FOR_MALLOC_HEADER:  # Go 1.22+: the heap bits at the span's end
        hb = span_bytes // WORD // 8
        base = span.start + span_bytes - hb
        if pl.inline_mark_bits and size >= MIN_SIZE_FOR_INLINE_MARK_BITS:
            base -= pl.inline_mark_bits
        bits = np.unpackbits(np.frombuffer(space.read(base, hb), np.uint8),
                             bitorder="little").astype(bool)
        words = slot[:, None] * nw + np.arange(nw)[None, :]
        counts, poff = _rows(bits[words])
        return counts, poff, 0
    if span.spanclass >> 1 == 0:  # a large object: its type in the span
        tile = types.tile(span.large_type, 0, size) if span.large_type else np.zeros(0, np.uint64)
        if tile is None:
            return np.zeros(n, np.int64), np.zeros(0, np.uint64), n
        return np.full(n, len(tile), np.int64), np.tile(tile, n), 0
    headers = np.frombuffer(b"".join(space.read(int(a), WORD) for a in addr), "<u8")
    tiles = [types.tile(int(t), MALLOC_HEADER_SIZE, size) if t else None
             for t in headers.tolist()]
    untyped = sum(t is None for t in tiles)
    tiles = [t if t is not None else np.zeros(0, np.uint64) for t in tiles]
    return (np.array([len(t) for t in tiles], np.int64),
            np.concatenate(tiles) if tiles else np.zeros(0, np.uint64), untyped)


def _values(space: AddressSpace, addr: np.ndarray, counts: np.ndarray, poff: np.ndarray
            ) -> np.ndarray:
    """The words at ``addr[i] + poff`` for each object's slots (ascending addresses, all
    word-aligned); at most WINDOW bytes read at once."""
    at = np.repeat(addr, counts) + poff
    out = np.empty(len(at), np.uint64)
    i = 0
    while i < len(at):
        lo = int(at[i])
        j = int(np.searchsorted(at, np.uint64(lo + WINDOW - WORD), "right"))
        words = np.frombuffer(space.read(lo, int(at[j - 1]) + WORD - lo), "<u8")
        out[i:j] = words[((at[i:j] - np.uint64(lo)) // np.uint64(WORD)).astype(np.int64)]
        i = j
    return out


def _check_held(space: AddressSpace, span: _Span) -> None:
    """The core's file holds all of the span's memory: what is worked out for the span is
    bounded by what the file really holds, not by what its fields claim."""
    address, end = span.start, span.start + span.npages * PAGE_SIZE
    while address < end:
        have = space.core.held(address)
        if have == 0:
            raise CoreFileError(f"{space.core.path}: the span of {span.npages} pages from "
                                f"{span.start:#x} is not all in the core (nothing at "
                                f"{address:#x}): a truncated or corrupt core")
        address += have


def _small_spans(space: AddressSpace, pl: PointerLayout, spans: _SpanArrays, rows: np.ndarray,
                 first: np.ndarray, last: np.ndarray, addr: np.ndarray, gather: Gather,
                 whole: _WholeArenas | None = None
                 ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(objects, slot counts, slot offsets) of the objects in the spans ``rows`` of small
    objects (Go 1.22 on: heap bits at the span's end; Go 1.21: ``whole``, the bitmaps of the
    arenas holding them), all spans of one element size and page count at once: what
    :func:`_span_slots` works out span by span."""
    out = []
    size, npages = int(spans.elemsize[rows[0]]), int(spans.npages[rows[0]])
    nw = size // WORD
    span_bytes = npages * PAGE_SIZE
    hb = span_bytes // WORD // 8
    base = spans.start[rows] + np.uint64(span_bytes - hb)
    if pl.inline_mark_bits and size >= MIN_SIZE_FOR_INLINE_MARK_BITS:
        base -= np.uint64(pl.inline_mark_bits)
    step = max(1, CHUNK // max(hb * 8, nw * 64))  # spans at once
    for k in range(0, len(rows), step):
        r = rows[k:k + step]
        n = (last[r] - first[r]).astype(np.int64)
        span_row = np.repeat(np.arange(len(r)), n)
        objs = np.repeat(first[r] - (np.cumsum(n) - n), n) + np.arange(int(n.sum()))
        if whole is not None:
            a = addr[objs]
            at = a // np.uint64(whole.words * WORD) * np.uint64(whole.words * WORD)
            k_of = np.array([whole.index[x] for x in np.unique(at).tolist()], np.int64)
            base_of = k_of[np.searchsorted(np.unique(at), at)] * whole.words
            counts, poff = whole.slots(base_of + ((a - at) // np.uint64(WORD)).astype(
                np.int64), nw)
            out.append((objs, counts, poff))
            continue
        bits = np.unpackbits(gather.fixed(base[k:k + step], hb), axis=1, bitorder="little")
        slot = ((addr[objs] - spans.start[r][span_row]) // np.uint64(size)).astype(np.int64)
        words = slot[:, None] * nw + np.arange(nw)[None, :]
        counts, poff = _rows(bits[span_row[:, None], words].astype(bool))
        out.append((objs, counts, poff))
    return out


def pointer_slots(space: AddressSpace, layout: RuntimeLayout, pl: PointerLayout,
                  heap: HeapObjects) -> PointerSlots:
    """The pointer slots of the objects of ``heap`` and the values in them."""
    where = space.core.path
    n = len(heap.addr)
    gather = Gather(space)
    spans = _spans(space, layout, pl, gather)
    span_bytes = spans.npages * np.uint64(PAGE_SIZE)
    first = np.searchsorted(heap.addr, spans.start)
    last = np.searchsorted(heap.addr, spans.start + span_bytes)
    if n and (len(spans.start) == 0 or int(first[0]) != 0 or int(last[-1]) != n
              or np.any(first[1:] != last[:-1])):
        raise CoreFileError(f"{where}: the heap's objects are not all in its spans in use: "
                            "the heap changed, or a corrupt core")
    # Noscan spans hold no pointers (Go 1.21 keeps their bitmap zero: mbitmap.go).
    scan = np.nonzero((first != last) & (spans.spanclass & np.uint64(SPAN_CLASS_NOSCAN) == 0))[0]
    span_off, held = gather.offsets(spans.start[scan], span_bytes[scan])
    # Where each object's bytes are in the core file, when its span is in one segment there
    # (word-aligned): its pointer values are read from there at once; -1: read one by one.
    direct = held & (span_off % WORD == 0)
    delta = np.full(len(spans.start), -1, np.int64)
    delta[scan[direct]] = span_off[direct] - spans.start[scan[direct]].astype(np.int64)
    obj_delta = np.repeat(delta, (last - first).astype(np.int64))
    for i in scan[~held].tolist():  # in more than one segment, or not all in the core
        _check_held(space, spans.span(i))
    types = _Types(space, pl)
    arenas = _Arenas(space, pl.arena) if pl.arena is not None else None
    small = spans.elemsize[scan] <= np.uint64(MIN_SIZE_FOR_MALLOC_HEADER)
    whole = None
    if arenas is not None:  # Go 1.21: small spans within one arena, its bitmap read whole
        ab = np.uint64(arenas.ab.arena_bytes)
        arena_of = spans.start[scan] // ab * ab
        small &= arena_of == (spans.start[scan] + span_bytes[scan] - np.uint64(1)) // ab * ab
        try:
            whole = _WholeArenas(arenas, np.unique(arena_of[small]).tolist())
        except UnmappedAddress:  # an arena's bitmap not all in the core: span by span
            small[:] = False
    pieces = []
    groups = np.stack([spans.elemsize[scan][small], spans.npages[scan][small]], axis=1)
    if len(groups):
        keys, which = np.unique(groups, axis=0, return_inverse=True)
        for g in range(len(keys)):
            pieces += _small_spans(space, pl, spans, scan[small][which.ravel() == g], first, last,
                                   heap.addr, gather, whole)
    untyped = 0
    for i in scan[~small].tolist():
        a, b = int(first[i]), int(last[i])
        c, poff, u = _span_slots(space, pl, spans.span(i), heap.addr[a:b], types, arenas)
        untyped += u
        pieces.append((np.arange(a, b), c, poff))
    counts = np.zeros(n, np.int64)
    for objs, c, _ in pieces:
        counts[objs] = c
    pstart = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=pstart[1:])
    poff = np.zeros(int(pstart[-1]), np.uint64)
    while pieces:  # each piece freed once its offsets are in place
        objs, c, offs = pieces.pop()
        rank = np.arange(len(offs)) - np.repeat(np.cumsum(c) - c, c)
        poff[np.repeat(pstart[objs], c) + rank] = offs
    pval = np.empty(len(poff), np.uint64)
    lo = 0
    while lo < n:  # objects in groups of about CHUNK slots
        hi = max(lo + 1, int(np.searchsorted(pstart, pstart[lo] + CHUNK, "right")) - 1)
        hi = min(hi, n)
        s0, s1 = int(pstart[lo]), int(pstart[hi])
        at = np.repeat(heap.addr[lo:hi], counts[lo:hi]) + poff[s0:s1]
        d = np.repeat(obj_delta[lo:hi], counts[lo:hi])
        fast = d != -1
        words = gather.words()
        pval[s0:s1][fast] = words[(at[fast].astype(np.int64) + d[fast]) // WORD]
        del words  # before anything that may raise: the core's mmap closes only without it
        pval[s0:s1][~fast] = gather.words_at(at[~fast])
        lo = hi
    return PointerSlots(pstart, poff, pval, untyped)


def core_pointers(core_path: str, program: str
                  ) -> tuple[RuntimeLayout, HeapObjects, PointerSlots]:
    """The heap of the core at ``core_path`` taken of ``program`` and its objects' pointer
    slots; a ValueError naming the file when either is not usable."""
    with open_core(core_path) as core:
        layout = runtime_layout(program)
        pl = pointer_layout(program, layout)
        with open_address_space(core, program) as space:
            heap = heap_objects(space, layout)
            return layout, heap, pointer_slots(space, layout, pl, heap)
