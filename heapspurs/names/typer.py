"""The typing pass: check proposed types against the dump and propagate them through typed
pointer fields (seeds in :mod:`heapspurs.names.typing_seeds`), in bounded memory.

Proposals are gathered per (type, mode) and checked a whole frontier at a time per type, in the
order the proposals were first made (the first accepted typing of an object wins). A frontier is
worked through in pieces of at most a few ten thousand pointer slots
(:mod:`heapspurs.names.slot_pieces`), so that no temporary grows with the heap; the result is the
one a single pass over the whole frontier gives: where the order of effects matters (which
proposal comes first, which capacity hint is the last, which field first names the memory a
slice points at), the pieces keep it.
"""

from __future__ import annotations

import mmap
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import numpy as np

from heapspurs.index.geometry import MALLOC_HEADER
from heapspurs.index.heap_index import HeapIndex
from heapspurs.index.memory import give_back
from heapspurs.index.workspace import Workspace, scratch_for
from heapspurs.names.dwarf_types import GoTypes
from heapspurs.names.slot_pieces import BUDGET, Piece, chunks, pieces
from heapspurs.names.type_layouts import (
    ANY,
    ARRAY,
    CHANBUF,
    COUNTED,
    EFACE,
    FUNCVAL,
    IFACE,
    LENGTH_WORD,
    NOSCAN,
    PTR,
    SHAPE,
    SINGLE,
    SLICE,
    STRING,
    Layouts,
    allocated_as,
    embedded_in,
    field_path,
    pointer_shaped,
    swiss_small_map_groups,
    trie_node_kinds,
    unique,
)
from heapspurs.names.typing_seeds import Seeds

STRING_DATA = "string data"
# Why an object stayed untyped, besides no typed pointer reaching it (Typing.untyped_reasons).
REJECTED, OPEN_CLOSURE = 1, 2
WORDS = 1 << 16  # words read from the dump at a time
RELEASE = 1 << 11  # words read between two releases of the dump's pages (at most 8 MB)
BIG_CAP = -2 - np.iinfo(np.int32).min  # capacity hints from here on are kept in big_caps
PER_OBJECT = 14  # bytes of the typer's per-object arrays
COMPACT = 16  # budgets of proposed objects of one key that may wait unmerged (see queue)
PROPAGATED = (PTR, SLICE, COUNTED, CHANBUF)  # actions whose targets get proposed, in order
Walk = Callable[[], Iterator[Piece]]


def _filled(ws: Workspace, name: str, n: int, dtype: type, value: int) -> np.ndarray:
    a = ws.empty(name, n, dtype)
    a.fill(value)
    return a


def distinct(parts: list[np.ndarray]) -> np.ndarray:
    """The sorted distinct values of arrays, which are let go of as soon as they are
    joined."""
    a = np.concatenate(parts)
    parts.clear()
    a.sort()
    if len(a) < 2:
        return a
    keep = np.empty(len(a), bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]


def queue(parts: list[np.ndarray], objs: np.ndarray, least: int) -> None:
    """Add proposed objects to a key's parts. Once the parts after the first hold as many as
    the first and at least ``least`` objects, all are merged into their distinct values (many
    pointers may lead to the same objects)."""
    parts.append(objs)
    rest = sum(len(p) for p in parts[1:])
    if rest >= max(len(parts[0]), least):
        parts.append(distinct(parts))


class Typer(Seeds):
    def __init__(self, ix: HeapIndex, types: GoTypes, budget: int = BUDGET):
        self.ix = ix
        self.budget = budget  # slots and objects worked on at a time
        # The index's arrays as plain arrays (indexing a memmap costs microseconds a call).
        self.a = SimpleNamespace(**{k: np.asarray(getattr(ix, k)) for k in (
            "addr", "size", "off", "pstart", "pdst", "pval", "poff", "header", "phantom")})
        self.types = types
        self.ptr = ix.params.ptr_size
        self.layouts = Layouts(types, self.ptr)
        # The per-object arrays (14 bytes an object) in scratch files where they do not fit
        # the --memory budget (see scratch_for).
        ws = scratch_for(ix, PER_OBJECT * ix.count)
        self.object_type = _filled(ws, "typer_object_type", ix.count, np.int32, -1)
        # (while assigned: -2 - name code.) The DWARF type of each typed object. An untyped
        # object's elem may hold, until the end, the capacity a slice header gave for it
        # (-2 - capacity; BIG_CAP: in big_caps), for naming the array once it is typed.
        self.elem = _filled(ws, "typer_elem", ix.count, np.int32, -1)
        self.big_caps: dict[int, int] = {}
        self.small_group = ws.zeros("typer_small_group", ix.count, bool)  # a small map's group
        self.via = _filled(ws, "typer_via", ix.count, np.int32, -1)
        self.via_names: list[str] = []
        self.via_ids: dict[str, int] = {}
        self.via_labels: dict[tuple[int, int], str | None] = {}
        self.names: list[str] = []
        self.name_ids: dict[str, int] = {}
        self.conflicts = 0
        self.rejected = 0
        self.pending: dict[tuple[int, int], list[np.ndarray]] = defaultdict(list)
        self.late: dict[tuple[int, int], list[np.ndarray]] = defaultdict(list)
        self.obj_dtype = np.int32 if ix.count < 1 << 31 else np.int64
        self.map = ix.mapped()
        self.buf = np.frombuffer(self.map, np.uint8)
        self.word = np.dtype(("<", ">")[bool(ix.params.big_endian)] + f"u{self.ptr}")
        self.unreleased = 0
        self.itabs = {i.address: i.type_address for i in ix.raw.itabs}
        self.small_map_group = swiss_small_map_groups(types)
        self.trie_nodes = trie_node_kinds(types)
        self.allocated_as = allocated_as(types)
        self.embedded = embedded_in(types)
        # Ranks of the proposals of one step (see ranked): None outside one.
        self.ranks: tuple[dict, dict] | None = None
        self.why = ws.zeros("typer_why", ix.count, np.int8)  # why it may stay untyped
        self.group: tuple = ()
        self.seq = 0

    # ---- reading words of the dump ----
    def words_at(self, file_offsets: np.ndarray) -> np.ndarray:
        """The pointer-sized words at these offsets of the dump file. The pages read are given
        back every few thousand words: mapped pages count in the process's memory."""
        off = np.asarray(file_offsets, np.int64)
        out = np.empty(len(off), np.uint64)
        step = np.arange(self.ptr)
        for a in range(0, len(off), WORDS):
            part = self.buf[off[a : a + WORDS, None] + step]
            out[a : a + WORDS] = part.view(self.word).ravel()
        self.touched(len(off))
        return out

    def touched(self, n: int) -> None:
        self.unreleased += n
        if self.unreleased >= RELEASE:
            self.release()

    def release(self) -> None:
        """Drop the dump's mapped pages from this process (read again from the page cache when
        needed)."""
        self.unreleased = 0
        if len(self.buf) and hasattr(mmap, "MADV_DONTNEED"):
            self.map.madvise(mmap.MADV_DONTNEED)

    def header_bytes(self, obj: int) -> int:
        return MALLOC_HEADER if self.a.header[obj] else 0

    def hdr(self, objs: np.ndarray) -> np.ndarray:
        """The malloc header's size (0 or 8) of each object, as int64."""
        return np.where(self.a.header[objs], MALLOC_HEADER, 0)

    def name_id(self, name: str) -> int:
        i = self.name_ids.get(name)
        if i is None:
            i = self.name_ids[name] = len(self.names)
            self.names.append(name)
        return i

    # ---- candidates, and the order they are made in ----
    @contextmanager
    def ranked(self) -> Iterator[None]:
        """A step whose proposals are made piece by piece: each proposal has a rank (its
        group, see :meth:`rank`, and its place in that group) and, at the end, the (type,
        mode) keys the step added are put in the order of their lowest ranks, the order one
        pass over everything at once would have added them in."""
        self.ranks = ({}, {})
        try:
            yield
        finally:
            ranks, self.ranks = self.ranks, None
            for queue, rank in zip((self.pending, self.late), ranks, strict=True):
                if len(rank) > 1:
                    new = [(k, queue.pop(k)) for k in rank]
                    for k, parts in sorted(new, key=lambda kv: rank[kv[0]]):
                        queue[k] = parts

    def rank(self, group: tuple) -> None:
        self.group, self.seq = group, 0

    def _note(self, which: int, key: tuple[int, int]) -> None:
        """Before ``key`` gets a proposal: the lowest rank of the keys the step adds."""
        if self.ranks is not None:
            r = (*self.group, self.seq)
            ranks = self.ranks[which]
            if key in ranks:
                ranks[key] = min(ranks[key], r)
            elif key not in (self.pending, self.late)[which]:
                ranks[key] = r

    def propose(self, objs: np.ndarray, t: int, mode: int) -> None:
        self.seq += 1
        objs = np.asarray(objs)
        objs = objs[objs >= 0].astype(self.obj_dtype, copy=False)
        if len(objs) and t >= 0:
            key = (int(t), int(mode))
            self._note(0, key)
            queue(self.pending[key], objs, COMPACT * self.budget)
            real = self.allocated_as.get(self.types.resolve(int(t)))
            if real is not None:  # checked after t: the first typing that fits wins
                self.propose(objs, real, mode)

    def reached(self, objs: np.ndarray, vals: np.ndarray) -> np.ndarray:
        """Which pointer values point at the start of their object (past the malloc
        header)."""
        return vals == self.a.addr[objs] + self.hdr(objs).astype(np.uint64)

    def propose_reached(self, objs: np.ndarray, vals: np.ndarray, t: int, mode: int) -> None:
        """Type the objects that pointer values point at the start of as values of type
        ``t``. A slice (mode ARRAY) pointing at an element boundary inside its object (a
        slice of the middle of an array) types the object too, but only once propagation is
        over and only if nothing typed it: a slice of an array field of a struct looks the
        same, and the struct's own typing must win."""
        start = self.reached(objs, vals)
        self.propose(objs[start], t, mode)
        if self.types.resolve(t) in self.embedded:
            self.propose_embedded(objs[~start], vals[~start], self.types.resolve(t))
        esize = self.types.types[self.types.resolve(t)].size if t >= 0 else 0
        if mode == ARRAY and esize > 0:
            delta = vals[~start].astype(np.int64) - (self.a.addr[objs[~start]].astype(
                np.int64) + self.hdr(objs[~start]))
            inside = objs[~start][(delta > 0) & (delta % esize == 0)]
            if len(inside):
                key = (int(t), mode)
                self._note(1, key)
                queue(self.late[key], inside.astype(self.obj_dtype, copy=False),
                      COMPACT * self.budget)

    def propose_embedded(self, objs: np.ndarray, vals: np.ndarray, t: int) -> None:
        """Pointers to a ``t`` inside an object where a container type holds one
        (type_layouts.EMBEDDED): the object is proposed as that container."""
        delta = vals.astype(np.int64) - (self.a.addr[objs].astype(np.int64) + self.hdr(objs))
        for outer, off, period, when in self.embedded[t]:
            sel = delta == off
            if not sel.any():
                continue
            if when is not None:
                words = self.words_at(self.a.off[objs[sel]].astype(np.int64)
                                      + self.hdr(objs[sel]) + off + period)
                keep = (words == 0) if when == "once" else (words != 0)
                sel[np.nonzero(sel)[0][~keep]] = False
            group, seq = self.group, self.seq
            self.rank((len(PROPAGATED) + 3, outer))
            self.propose(objs[sel], outer, SINGLE)
            self.group, self.seq = group, seq

    def slot_targets(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(target object, pointer value) of pointer slots (indexes into the index's slot
        arrays) that point into an object."""
        dst = self.a.pdst[slots].astype(np.int64)
        ok = dst >= 0
        return dst[ok], self.a.pval[slots[ok]]

    def propose_targets(self, slots: np.ndarray, t: int, mode: int) -> None:
        """Type what pointer slots lead to as values of type ``t``."""
        objs, vals = self.slot_targets(slots)
        kinds = self.trie_nodes.get(self.types.resolve(t))
        if kinds is not None:
            self.type_trie_nodes(objs[self.reached(objs, vals)], *kinds)
            return
        self.propose_reached(objs, vals, t, mode)

    def type_trie_nodes(self, objs: np.ndarray, entry: int, indirect: int) -> None:
        """Go 1.24+ sync.Map / unique (internal/sync.HashTrieMap): a *node[K,V] points at an
        entry[K,V] or an indirect[K,V], told apart by the node's first byte (isEntry)."""
        is_entry = self.buf[self.a.off[objs].astype(np.int64) + self.hdr(objs)] != 0
        self.touched(len(objs))
        self.propose(objs[is_entry], entry, SINGLE)
        self.propose(objs[~is_entry], indirect, SINGLE)

    # ---- rounds: verify and assign the pending candidates, type by type ----
    def run(self, max_rounds: int = 10_000) -> None:
        rounds = 0
        while self.pending and rounds < max_rounds:
            rounds += 1
            pending, self.pending = self.pending, defaultdict(list)
            for t, mode in list(pending):
                self.assign(distinct(pending.pop((t, mode))), t, mode)

    def run_late(self, max_rounds: int = 100) -> None:
        """Propose what :meth:`propose_reached` held back (slices into the middle of arrays),
        for the objects still untyped, and propagate from them."""
        rounds = 0
        while self.late and rounds < max_rounds:
            rounds += 1
            late, self.late = self.late, defaultdict(list)
            for (t, mode), parts in late.items():
                objs = unique(np.concatenate(parts))
                self.propose(objs[self.object_type[objs] < 0], t, mode)
            self.run()

    def assign(self, objs: np.ndarray, t: int, mode: int) -> None:
        """Type ``objs`` (sorted, distinct) as values of type ``t`` (a typedef keeps its name)
        where the dump's pointer slots agree, and propose what their typed pointer words point
        at. While this runs, the objects it types hold ``-2 - code`` in object_type (code:
        which of its names); their names are registered before anything else is done."""
        codes = self.check(objs, t, mode)
        if not codes:
            return
        type_name = self.types.types[t].name.replace(SHAPE, "")
        ids = np.zeros(len(codes), np.int32)
        for n, code in sorted(codes.items()):  # names in the order of their lengths
            ids[code] = self.name_id(
                (type_name or "?") if n is None else type_name if n == 1
                else f"[{n}]{type_name}" if n > 1 else f"[...]{type_name}")
        ty = self.types.types[self.types.resolve(t)]
        offs, acts, tgts = self.layouts.of(t)
        with self.ranked():
            group = self.small_map_group.get(self.types.resolve(t))
            if group is not None:
                self.rank((-1,))
                for c in self.assigned(objs):
                    _, reps, _, _ = self.fit(c, ty, offs, mode)
                    self.type_small_map_groups(c[reps == 1], group)
            if len(offs):
                walk = self.walk(objs)
                self.note_via(walk, t, offs, acts, ty.size)
                self.hint_caps(walk, acts, len(offs))
                for piece in walk():
                    self.propagate(piece, acts, tgts, len(offs))
        for c in self.assigned(objs):
            code = -2 - self.object_type[c]
            self.object_type[c] = ids[code]
        if len(objs) > BUDGET:
            give_back()  # the pieces' temporaries

    def check(self, objs: np.ndarray, t: int, mode: int) -> dict[int | None, int]:
        """Type the objects whose pointer slots agree with ``t`` (object_type -2 - code, elem
        ``t``), count conflicts with earlier typings and rejections. Returns the codes of the
        names given: array length (None: not an array) -> code; empty when nothing was
        typed."""
        a = self.a
        ty_name = self.types.types[t].name
        ty = self.types.types[self.types.resolve(t)]
        layout = self.layouts.of(t)
        codes: dict[int | None, int] = {}
        for c in chunks(objs, self.budget):
            c = c[~a.phantom[c]]
            typed = self.object_type[c]
            taken = typed >= 0
            # A small map's dirPtr leads to its group, typed already: not a conflict.
            counted = taken & ~self.small_group[c]
            if counted.any():  # typed before: a conflict when the element type differs
                for existing in unique(typed[counted]).tolist():
                    name = self.names[existing]
                    if name != ty_name and not name.endswith("]" + ty_name):
                        self.conflicts += int((typed[counted] == existing).sum())
            c = c[~taken]
            if not len(c):
                continue
            if layout is None or (ty.size <= 0 and len(layout[0])):
                self.rejected += len(c)
                self.why[c] = REJECTED
                continue
            if mode == NOSCAN:  # checked by the rule that proposed them (noscan_chans)
                self.object_type[c] = -2 - codes.setdefault(None, 0)
                self.elem[c] = t
                continue
            if ty.name.startswith(("hchan<", "runtime.hchan")) and len(layout[0]):
                empty = a.pstart[c + 1] == a.pstart[c]
                with self.ranked():  # (the order of its proposals is kept by pieces)
                    if empty.any():
                        self.noscan_chans(c[empty], t)
                    c = c[~empty]
                    if ty.name == "runtime.hchan" and len(c):
                        # (A sudog's *hchan: the hchan<E> its elemtype names, where DWARF has it.)
                        chan = self.chan_types(c)[1]
                        for u in unique(chan[chan >= 0]).tolist():
                            self.rank((u,))
                            self.propose(c[chan == u], u, SINGLE)
                        c = c[chan < 0]
            elif ty.name == "runtime.itabTableType":
                empty = a.pstart[c + 1] == a.pstart[c]
                grown = empty & self.grown_itab_table(c)
                self.object_type[c[grown]] = -2 - codes.setdefault(None, 0)
                self.elem[c[grown]] = t
                c = c[~grown]
            ok, reps, exact, data = self.fit(c, ty, layout[0], mode)
            self.rejected += int((~ok).sum())
            self.why[c[~ok]] = REJECTED
            good, reps, exact, data = c[ok], reps[ok], exact[ok], data[ok]
            if len(layout[0]) and len(good):
                keep = self.slots_agree(good, ty.size, layout[0])
                self.rejected += int((~keep).sum())
                self.why[good[~keep]] = REJECTED
                good, reps, exact, data = good[keep], reps[keep], exact[keep], data[keep]
            if not len(good):
                continue
            if mode == SINGLE:
                code = np.full(len(good), codes.setdefault(None, 0))
            else:
                n = self.lengths(good, reps, exact, data, ty.size, len(layout[0]), mode)
                values = unique(n)
                code = np.array([codes.setdefault(v, len(codes)) for v in values.tolist()])[
                    np.searchsorted(values, n)]
            self.object_type[good] = -2 - code
            self.elem[good] = t
        return codes

    def noscan_chans(self, objs: np.ndarray, t: int) -> None:
        """Channels the runtime allocates without pointer bits (``makechan``: the hchan alone
        when the buffer is empty or its elements are zero-size, hchan and buffer in one noscan
        allocation when the elements hold no pointers): proposed as ``hchan<E>`` where the
        hchan's elemtype names E's runtime type, its elemsize and the object's size agree, and
        the rule explains the missing pointer bits."""
        ty = self.types.types[self.types.resolve(t)]
        field = {name: off for name, off, _ in ty.fields}
        if not {"dataqsiz", "elemsize"} <= field.keys():
            return
        elem, chans = self.chan_types(objs)
        base = self.a.off[objs].astype(np.int64) + self.hdr(objs)
        data = self.a.size[objs].astype(np.int64) - self.hdr(objs)
        count = self.words_at(base + field["dataqsiz"]).astype(np.int64)
        esize = self.buf[base + field["elemsize"]].astype(np.int64) | (
            self.buf[base + field["elemsize"] + 1].astype(np.int64) << 8)
        for e in unique(elem[chans >= 0]).tolist():
            chan = int(chans[elem == e][0])
            if ty.name != "runtime.hchan" and self.types.resolve(chan) != self.types.resolve(t):
                continue
            layout = self.layouts.of(e)
            pointer_free = layout is not None and not len(layout[0])
            elem_size = self.types.types[self.types.resolve(e)].size
            sel = (elem == e) & (esize == elem_size) & (count >= 0) & (count < 1 << 40)
            sel &= data >= self.types.types[self.types.resolve(chan)].size + count * elem_size
            sel &= (count * elem_size == 0) | pointer_free
            self.rank((chan,))
            self.propose(objs[sel], chan, NOSCAN)

    def chan_types(self, objs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(element type, ``hchan<E>`` type) of each hchan object by its elemtype word (the
        element's runtime type descriptor); -1 where DWARF has no such type."""
        hchan = self.layouts.struct_ids.get("runtime.hchan", -1)
        off = {n: o for n, o, _ in self.types.types[hchan].fields}.get("elemtype") if (
            hchan >= 0) else None
        elem = np.full(len(objs), -1, np.int64)
        chan = np.full(len(objs), -1, np.int64)
        if off is None or not len(objs):
            return elem, chan
        words = self.words_at(self.a.off[objs].astype(np.int64) + self.hdr(objs) + off)
        for d in unique(words).tolist():
            e = self.types.runtime.get(int(d), -1)
            if e >= 0:
                sel = words == d
                elem[sel] = e
                chan[sel] = self.layouts.type_ids.get(f"hchan<{self.types.types[e].name}>", -1)
        return elem, chan

    def grown_itab_table(self, objs: np.ndarray) -> np.ndarray:
        """runtime.itabAdd grows the itab table into a noscan allocation (the itabs it points
        at are not heap memory) of 2 + size words: {size, count, entries [size]*itab}. Which
        objects are one: size a power of two, count below it, the object big enough."""
        base = self.a.off[objs].astype(np.int64) + self.hdr(objs)
        data = self.a.size[objs].astype(np.int64) - self.hdr(objs)
        size = self.words_at(base).astype(np.int64)
        count = self.words_at(base + self.ptr).astype(np.int64)
        return ((size > 0) & (size < 1 << 40) & ((size & (size - 1)) == 0) & (count >= 0)
                & (count <= size) & ((2 + size) * self.ptr <= data))

    def fit(self, objs: np.ndarray, ty, offs: np.ndarray, mode: int) -> tuple[
            np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(fits, repetitions, exact, data bytes) of each object for a type of ``ty.size``
        bytes with pointer words at ``offs``: fits when its number of pointer slots is what
        the type (repeated, for arrays) has; exact when those slots say the length."""
        a = self.a
        npw = len(offs)
        data = a.size[objs].astype(np.int64) - self.hdr(objs)
        count = a.pstart[objs + 1] - a.pstart[objs]
        exact = np.zeros(len(objs), bool)
        if npw == 0:
            ok = (count == 0) & (data >= ty.size)
            reps = np.where(ok, np.maximum(data // max(ty.size, 1), 1), 0) if mode == ARRAY else (
                ok.astype(np.int64))
            return ok, reps, exact, data
        reps = count // npw
        ok = (count % npw == 0) & (reps >= 1) & (reps * ty.size <= data)
        exact = ok & ~a.header[objs]
        if mode == SINGLE:
            ok &= reps == 1
        else:
            # Objects typed from their malloc header are scanned with the type repeated to the
            # end of the allocation: the last element may be cut short.
            full = data // max(ty.size, 1)
            fill = full * npw + np.searchsorted(offs, data - full * ty.size)
            filled = ~ok & (count == fill) & (full >= 1)
            reps = np.where(filled, full, reps)
            ok |= filled
        return ok, reps, exact, data

    def slots_agree(self, objs: np.ndarray, size: int, offs: np.ndarray) -> np.ndarray:
        """Whether every pointer slot of each object sits where the type says: the offset of
        its word plus the start of its element."""
        npw = len(offs)
        bad = []
        for piece in pieces(objs, self.a.pstart, self.budget):
            slots, owner, j = piece.slots()
            expect = offs[j % npw] + (j // npw) * size + self.hdr(piece.objs)[owner]
            wrong = self.a.poff[slots].astype(np.int64) != expect
            if wrong.any():
                bad.append(piece.objs[owner[wrong]])
        return ~np.isin(objs, np.concatenate(bad)) if bad else np.ones(len(objs), bool)

    def lengths(self, good: np.ndarray, reps: np.ndarray, exact: np.ndarray,
                data: np.ndarray, size: int, npw: int, mode: int) -> np.ndarray:
        """Elements of each array: [cap]T where a slice header said its capacity (the dump's
        pointer slots may run to the end of the size class), else as many as the slots hold
        when they say it, else -1 ([...]T): the length is never guessed."""
        cap = np.maximum(-2 - self.elem[good].astype(np.int64), -1)
        for k in np.nonzero(cap == BIG_CAP)[0].tolist():
            cap[k] = self.big_caps[int(good[k])]
        fits = (cap >= 1) & (cap * max(size, 1) <= data) & ((cap <= reps) | (npw == 0))
        only_one = data < 2 * max(size, 1)  # room for one element only
        return np.where(fits, cap, np.where(
            exact | only_one | ((reps == 1) & (mode == ANY)), np.where(only_one, 1, reps), -1))

    def assigned(self, objs: np.ndarray) -> Iterator[np.ndarray]:
        """The objects of ``objs`` that the running :meth:`assign` types, a part at a time."""
        for c in chunks(objs, self.budget):
            c = c[self.object_type[c] <= -2]
            if len(c):
                yield c

    def walk(self, objs: np.ndarray) -> Walk:
        """A way to walk the pieces of the objects the running :meth:`assign` types, as
        often as needed: one piece, kept with its slots, when they are few; else the pieces
        cut again each time."""
        def again() -> Iterator[Piece]:
            for c in self.assigned(objs):
                yield from pieces(c, self.a.pstart, self.budget)

        if len(objs) > self.budget:
            return again
        parts = list(again())
        if len(parts) != 1:
            return again
        parts[0].keep = True
        parts[0].slots()
        return lambda: iter(parts)

    # ---- what typed pointer words lead to ----
    def note_via(self, walk: Walk, t: int, offs: np.ndarray, acts: np.ndarray,
                 size: int) -> None:
        """Remember, for what slices and strings point at, the field they are in (the first
        field in offset order that leads to it)."""
        for f in np.nonzero((acts == SLICE) | (acts == STRING))[0].tolist():
            label = self.via_label(t, int(offs[f]) % max(size, 1))
            if label is None:
                continue  # only named fields of structs say where memory comes from
            vid = self.via_ids.get(label)
            if vid is None:
                vid = self.via_ids[label] = len(self.via_names)
                self.via_names.append(label)
            for piece in walk():
                dst = self.a.pdst[piece.field_slots(f, len(offs))].astype(np.int64)
                dst = dst[dst >= 0]
                self.via[dst[self.via[dst] < 0]] = vid

    def via_label(self, t: int, off: int) -> str | None:
        """``main.Entry.Payload``: the type and the path of the field at ``off``, if that is a
        named field of a struct."""
        key = (t, off)
        if key not in self.via_labels:
            owner = self.types.types[t].name
            path = field_path(self.types, t, off)
            self.via_labels[key] = f"{owner}{path}" if path.startswith(".") and owner else None
        return self.via_labels[key]

    def hint_caps(self, walk: Walk, acts: np.ndarray, npw: int) -> None:
        """The capacity of slices (and the length of counted arrays and channel buffers) that
        start at their array's start, for naming the array later: the last one seen wins."""
        arr = self.a
        for action in (SLICE, COUNTED, CHANBUF):
            if not (acts == action).any():
                continue
            for piece in walk():
                slots, owner, j = piece.slots()
                sel = acts[j % npw] == action
                src, slots = piece.objs[owner[sel]], slots[sel]
                start = arr.off[src].astype(np.int64)
                cap_off = (start + arr.poff[slots].astype(np.int64)
                           + LENGTH_WORD[action] * self.ptr)
                inside = (cap_off >= start) & (
                    cap_off + self.ptr <= start + arr.size[src].astype(np.int64))
                self.set_caps(slots[inside], self.words_at(cap_off[inside]))

    def set_caps(self, slots: np.ndarray, caps: np.ndarray) -> None:
        dst = self.a.pdst[slots].astype(np.int64)
        ok = (dst >= 0) & (caps < np.uint64(1 << 40))
        ok[ok] = self.reached(dst[ok], self.a.pval[slots[ok]])
        dst, caps = dst[ok], caps[ok].astype(np.int64)
        untyped = self.elem[dst] < 0  # (a typed object's capacity is never asked for)
        dst, caps = dst[untyped], caps[untyped]
        big = caps >= BIG_CAP
        self.elem[dst] = -2 - np.minimum(caps, BIG_CAP)
        for d, c in zip(dst[big].tolist(), caps[big].tolist(), strict=True):
            self.big_caps[d] = c

    def set_cap(self, obj: int, cap: int) -> None:
        if self.elem[obj] < 0:
            self.elem[obj] = -2 - min(cap, BIG_CAP)
            if cap >= BIG_CAP:
                self.big_caps[obj] = cap

    def done(self) -> None:
        """End the pass: the capacities kept in elem go, the dump's pages are given back."""
        np.maximum(self.elem, -1, out=self.elem)
        self.release()

    def propagate(self, piece: Piece, acts: np.ndarray, tgts: np.ndarray, npw: int) -> None:
        """Propose types for what the typed pointer words of one piece point at."""
        slots, owner, j = piece.slots()
        field = j % npw
        act, tgt = acts[field], tgts[field]
        for order, a in enumerate(PROPAGATED):
            sel = act == a
            if sel.any():
                for target in unique(tgt[sel]).tolist():
                    self.rank((order, target))
                    self.propose_targets(slots[sel & (tgt == target)], int(target),
                                         ANY if a == PTR else ARRAY)
        sel = act == STRING
        if sel.any():
            dst = self.a.pdst[slots[sel]].astype(np.int64)
            self.type_string_data(dst[dst >= 0])
        for order, a in enumerate((EFACE, IFACE), len(PROPAGATED)):
            sel = act == a
            if sel.any():
                self.type_interfaces(slots[sel], piece.objs[owner[sel]], a == IFACE, order)
        sel = act == FUNCVAL
        if sel.any():
            self.type_closures(*self.slot_targets(slots[sel]))

    def type_closures(self, objs: np.ndarray, vals: np.ndarray) -> None:
        """Func values point at closure objects: the object's first word is its function's
        entry pc, which names its ``closure NAME`` type (when DWARF lays that closure out)."""
        objs = objs[self.reached(objs, vals)]
        if not len(objs) or not self.types.closures:
            return
        pcs = self.words_at(self.a.off[objs].astype(np.int64) + self.hdr(objs))
        for pc in unique(pcs).tolist():
            t = self.types.closures.get(int(pc), -1)
            if t >= 0:
                self.rank((len(PROPAGATED) + 2, t))
                self.propose(objs[pcs == pc], t, SINGLE)
            else:
                self.why[objs[pcs == pc]] = OPEN_CLOSURE

    def type_small_map_groups(self, maps: np.ndarray, group: int) -> None:
        """A Go 1.24+ map with at most 8 entries has no directory: dirPtr (offset 16) points at
        its one group when dirLen (offset 24) is 0."""
        a = self.a
        base = a.off[maps].astype(np.int64) + self.hdr(maps)
        dir_len = self.words_at(base + 3 * self.ptr)
        dir_ptr = self.words_at(base + 2 * self.ptr)
        small = (dir_len == 0) & (dir_ptr != 0)
        targets = self.ix.resolve(dir_ptr[small]).astype(np.int64)
        ok = targets >= 0
        targets, vals = targets[ok], dir_ptr[small][ok]
        at_start = vals == a.addr[targets] + self.hdr(targets).astype(np.uint64)
        self.small_group[targets[at_start]] = True
        self.propose(targets[at_start], group, SINGLE)

    def type_string_data(self, objs: np.ndarray) -> None:
        """Objects a string points into (at any offset: a substring keeps its whole
        allocation) are string data, when they hold no pointers and have no type yet."""
        a = self.a
        fresh = objs[(self.object_type[objs] == -1) & ~a.phantom[objs]
                     & (a.pstart[objs + 1] == a.pstart[objs])]
        self.object_type[unique(fresh)] = self.name_id(STRING_DATA)

    def interface_types(self, type_words: np.ndarray, iface: bool) -> np.ndarray:
        """DWARF type of each interface's dynamic type (by type word or itab), or -1."""
        words = np.asarray(type_words, np.uint64)
        distinct = unique(words)
        tmap = np.full(len(distinct), -1, np.int64)
        for i, w in enumerate(distinct.tolist()):
            if not w:
                continue
            desc = self.itabs.get(w) if iface else w
            if iface and desc is None:
                desc = self._itab_type(w)
            if desc is not None:
                tmap[i] = self.types.runtime.get(desc, -1)
        if not len(distinct):
            return np.full(len(words), -1, np.int64)
        return tmap[np.searchsorted(distinct, words)]

    def _itab_type(self, itab: int) -> int | None:
        """The concrete type of an itab not in the dump's itab records: its second word."""
        obj = self.ix.find(itab)
        if obj < 0:
            return None
        off = int(self.a.off[obj]) + itab - int(self.a.addr[obj]) + self.ptr
        if off + self.ptr > int(self.a.off[obj] + self.a.size[obj]):
            return None
        return int(self.words_at(np.array([off]))[0])

    def type_interfaces(self, slots: np.ndarray, src: np.ndarray, iface: bool,
                        order: int) -> None:
        """The data word's target (``slots``, in objects ``src``) gets the dynamic type from
        the type/itab word before it."""
        a = self.a
        word_off = a.off[src].astype(np.int64) + a.poff[slots].astype(np.int64) - self.ptr
        dyn = self.interface_types(self.words_at(word_off), iface)
        for d in unique(dyn[dyn >= 0]).tolist():
            self.rank((order, d))
            pick = slots[dyn == d]
            if self.types.types[self.types.resolve(d)].tag == "func":
                self.type_closures(*self.slot_targets(pick))
            elif pointer_shaped(self.types, d):
                ty = self.types.types[self.types.resolve(d)]
                if ty.tag == "pointer" and ty.target >= 0:
                    self.propose_targets(pick, ty.target, ANY)
            else:
                self.propose_targets(pick, d, SINGLE)
