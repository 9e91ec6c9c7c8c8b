"""Where typing the heap starts: the typed roots. Global variables (and the unnamed static
objects typed pointer globals point at), stack-frame locals and parameters at each frame's pc,
finalizers' object types and malloc headers' type descriptors propose types for the objects
they point at; :class:`heapspurs.names.typing.Typer` checks and propagates them."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np

from heapspurs.names.closures import CLOSURE
from heapspurs.names.type_layouts import (
    ANY,
    ARRAY,
    CHANBUF,
    COUNTED,
    EFACE,
    FUNCVAL,
    IFACE,
    LENGTH_WORD,
    PTR,
    SINGLE,
    SLICE,
    STRING,
    pointer_shaped,
    unique,
)
from heapspurs.scan.raw import ROOT_BSS, ROOT_DATA

if TYPE_CHECKING:
    from heapspurs.names.typer import Typer

HEADER_PART = 1 << 20  # objects whose malloc headers are read at a time


class Seeds:
    """The seeding half of :class:`heapspurs.names.typing.Typer`."""

    def seed_globals(self: Typer) -> None:
        ix, types = self.ix, self.types
        roots = ix.roots
        glob = np.nonzero((roots.kind == ROOT_BSS) | (roots.kind == ROOT_DATA))[0]
        if not len(glob) or not types.globals:
            return
        regions = self.typed_regions()
        gaddr = np.array([g[0] for g in regions], np.uint64)
        slots = roots.slot[glob]
        gi = np.searchsorted(gaddr, slots, side="right").astype(np.int64) - 1
        by_action: dict[tuple[int, int], list[int]] = defaultdict(list)
        eface: list[tuple[int, int, bool]] = []
        for row, g in zip(glob.tolist(), gi.tolist(), strict=True):
            if g < 0:
                continue
            addr, t = regions[g]
            layout = self.layouts.of(t)
            if layout is None:
                continue
            off = int(roots.slot[row]) - addr
            k = np.searchsorted(layout[0], off)
            if k >= len(layout[0]) or layout[0][k] != off:
                continue
            act, tgt = int(layout[1][k]), int(layout[2][k])
            if act in (PTR, SLICE, COUNTED, CHANBUF, FUNCVAL):
                by_action[(act, tgt)].append(row)
            elif act in (EFACE, IFACE):
                eface.append((row, int(roots.slot[row]) - self.ptr, act == IFACE))
            elif act == STRING:
                by_action[(STRING, -1)].append(row)
        for (act, tgt), rows in by_action.items():
            objs = roots.obj[rows].astype(np.int64)
            vals = roots.value[rows]
            if act == STRING:
                self.type_string_data(objs)
            elif act == FUNCVAL:
                self.type_closures(objs, vals)
            else:
                mode = ANY if act == PTR else ARRAY
                if act in LENGTH_WORD:  # the length: a slice's third word, ...
                    step = LENGTH_WORD[act]
                    at_start = self.reached(objs, vals)
                    for row in np.asarray(rows)[at_start].tolist():
                        cap = self._segment_word(int(roots.slot[row]) + step * self.ptr)
                        if cap is not None and cap < 1 << 40:
                            self.set_cap(int(roots.obj[row]), cap)
                self.propose_reached(objs, vals, tgt, mode)
        for row, word_addr, iface in eface:
            word = self._segment_word(word_addr)
            if word is None:
                continue
            d = int(self.interface_types(np.array([word], np.uint64), iface)[0])
            if d < 0:
                continue
            obj = int(roots.obj[row])
            if int(roots.value[row]) == int(ix.addr[obj]) + self.header_bytes(obj):
                self.propose_dynamic(obj, d)

    def typed_regions(self: Typer) -> list[tuple[int, int]]:
        """(address, type) of global memory, sorted: the globals DWARF names, and the unnamed
        static objects that typed pointer globals point at (``var t = &T{...}`` or
        ``var t = NewT()`` may be compiled into static data that only ``t`` points to)."""
        types = self.types
        regions = [(addr, t) for _, addr, t in types.globals]
        if not regions:
            return regions
        gaddr = np.array([a for a, _ in regions], np.uint64)
        gend = gaddr + np.array([max(types.types[types.resolve(t)].size, 1)
                                 for _, t in regions], np.uint64)
        statics: dict[int, int] = {}
        segments = self.ix.raw.segments
        for seg in segments:
            slots = np.uint64(seg.address) + seg.ptr_off.astype(np.uint64)
            vals = seg.ptr_val.astype(np.uint64)
            into = np.zeros(len(vals), bool)
            for other in segments:
                into |= (vals >= np.uint64(other.address)) & (vals < np.uint64(other.end))
            vg = np.searchsorted(gaddr, vals, side="right").astype(np.int64) - 1
            unnamed = into & ((vg < 0) | (vals >= gend[np.maximum(vg, 0)]))
            sg = np.searchsorted(gaddr, slots, side="right").astype(np.int64) - 1
            for slot, val, g in zip(slots[unnamed].tolist(), vals[unnamed].tolist(),
                                    sg[unnamed].tolist(), strict=True):
                if g < 0 or slot >= int(gend[g]):
                    continue
                addr, t = regions[g]
                layout = self.layouts.of(t)
                if layout is None:
                    continue
                k = int(np.searchsorted(layout[0], slot - addr))
                if (k < len(layout[0]) and layout[0][k] == slot - addr
                        and layout[1][k] == PTR and layout[2][k] >= 0):
                    statics.setdefault(val, int(layout[2][k]))
        return sorted(regions + list(statics.items()))

    def propose_dynamic(self: Typer, obj: int, d: int) -> None:
        """An interface's data word points at ``obj`` and its dynamic type is ``d``: a pointer
        type's pointee, or (a value boxed in the heap) ``d`` itself."""
        if self.types.types[self.types.resolve(d)].tag == "func":
            self.type_closures(np.array([obj]), np.array([self.ix.addr[obj] + np.uint64(
                self.header_bytes(obj))], np.uint64))
        elif pointer_shaped(self.types, d):
            ty = self.types.types[self.types.resolve(d)]
            if ty.tag == "pointer" and ty.target >= 0:
                self.propose(np.array([obj]), ty.target, ANY)
        else:
            self.propose(np.array([obj]), d, SINGLE)

    def _segment_word(self: Typer, address: int) -> int | None:
        for s in self.ix.raw.segments:
            if s.address <= address and address + self.ptr <= s.end:
                off = s.contents_offset + address - s.address
                return int(self.words_at(np.array([off]))[0])
        return None

    def seed_frames(self: Typer) -> None:
        """Stack frames: locals and parameters DWARF places in the frame at the frame's pc
        (CFA = frame sp + frame size; a frame's pc is a return address, so pc - 1 is looked
        up). Only words the frame's pointer map lists as live pointers are followed."""
        ix, types = self.ix, self.types
        raw = ix.raw
        if not types.locals or not len(raw.frame_sp):
            return
        begin, end, which = [], [], []
        for li, (_, ranges) in enumerate(types.locals):
            for ri, (lo, hi, _) in enumerate(ranges):
                begin.append(lo)
                end.append(hi)
                which.append((li, ri))
        begin_a = np.array(begin, np.uint64)
        end_a = np.array(end, np.uint64)
        by_action: dict[tuple[int, int], list[int]] = defaultdict(list)
        ifaces: list[tuple[int, int, bool]] = []
        # Every frame's pointer slots by address: a register argument is spilled into its
        # caller's frame (the outgoing argument area), where DWARF may place it.
        counts = np.diff(np.asarray(raw.frame_pstart, np.int64))
        owner = np.repeat(np.arange(len(counts)), counts)
        slot_addr = (np.asarray(raw.frame_sp, np.uint64)[owner]
                     + np.asarray(raw.fptr_off[:len(owner)], np.uint64))
        slot_of = dict(zip(slot_addr.tolist(), range(len(owner)), strict=True))
        for f in range(len(raw.frame_sp)):
            pc = np.uint64(int(raw.frame_pc[f]) - 1)
            live = np.nonzero((begin_a <= pc) & (pc < end_a))[0]
            if not len(live):
                continue
            cfa = int(raw.frame_sp[f]) + int(raw.frame_size[f])
            for k in live.tolist():
                li, ri = which[k]
                t = types.locals[li][0]
                layout = self.layouts.of(t)
                if layout is None or not len(layout[0]):
                    continue
                for (vo, n, where) in types.locals[li][1][ri][2]:
                    if where is None:
                        continue
                    for off, act, tgt in zip(*(a.tolist() for a in layout), strict=True):
                        if not vo <= off < vo + n:
                            continue
                        addr = cfa + where + off - vo
                        j = slot_of.get(addr)
                        if j is None:
                            continue
                        if act in (PTR, SLICE, STRING, COUNTED, CHANBUF, FUNCVAL):
                            by_action[(act, tgt)].append(j)
                            # (No capacity from frames: DWARF may place a whole slice
                            # header in the frame where only its pointer was spilled.)
                        elif act in (EFACE, IFACE):
                            g = int(owner[j])  # the frame holding the slot
                            ifaces.append((j, addr - self.ptr - int(raw.frame_sp[g])
                                           + int(raw.frame_off[g]), act == IFACE))
        values = raw.fptr_val
        for (act, tgt), fslots in by_action.items():
            vals = values[np.array(fslots, np.int64)]
            objs = ix.resolve(vals).astype(np.int64)
            ok = objs >= 0
            objs, vals = objs[ok], vals[ok]
            if act == STRING:
                self.type_string_data(objs)
            elif act == FUNCVAL:
                self.type_closures(objs, vals)
            else:
                mode = ANY if act == PTR else ARRAY
                self.propose_reached(objs, vals, tgt, mode)
        for fslot, word_at, iface in ifaces:
            d = int(self.interface_types(self.words_at(np.array([word_at])), iface)[0])
            obj = ix.find(int(values[fslot]))
            if d >= 0 and obj >= 0 and int(values[fslot]) == int(ix.addr[obj]) + (
                    self.header_bytes(obj)):
                self.propose_dynamic(obj, d)

    def seed_frame_closures(self: Typer) -> None:
        """A running closure keeps its closure object in its frame: a frame's pointer that
        points at an object whose first word is the entry of the frame's own function types
        that object as the function's closure."""
        raw, types = self.ix.raw, self.types
        if not types.closures or not len(raw.frame_sp):
            return
        by_name = {types.types[t].name: t for t in types.closures.values()}
        pc_of = {t: pc for pc, t in types.closures.items()}
        counts = np.diff(np.asarray(raw.frame_pstart, np.int64))
        frame = np.repeat(np.arange(len(counts)), counts)
        vals = np.asarray(raw.fptr_val[:len(frame)], np.uint64)
        objs = self.ix.resolve(vals).astype(np.int64)
        ok = objs >= 0
        frame, vals, objs = frame[ok], vals[ok], objs[ok]
        start = self.reached(objs, vals)
        frame, objs = frame[start], objs[start]
        if not len(objs):
            return
        pcs = self.words_at(self.a.off[objs].astype(np.int64) + self.hdr(objs))
        for f in unique(frame[np.isin(pcs, np.array(list(types.closures), np.uint64))]).tolist():
            t = by_name.get(CLOSURE + self.ix.frame_name(f), -1)
            if t >= 0:
                mine = (frame == f) & (pcs == np.uint64(pc_of[t]))
                self.propose(objs[mine], t, SINGLE)

    def seed_headers(self: Typer) -> None:
        """Objects with a malloc header name their type descriptor in their first word. Read a
        part of the heap at a time; each descriptor's type is proposed in the order of the
        descriptors' addresses, as if the whole heap were read at once."""
        ix = self.ix
        with self.ranked():
            for a in range(0, ix.count, HEADER_PART):
                b = min(a + HEADER_PART, ix.count)
                objs = np.nonzero(ix.header[a:b] & ~ix.phantom[a:b])[0] + a
                if not len(objs):
                    continue
                desc = self.words_at(ix.off[objs].astype(np.int64))
                for d in unique(desc).tolist():
                    t = self.types.runtime.get(int(d), -1)
                    if t >= 0:
                        self.rank((d,))
                        self.propose(objs[desc == d], t, ARRAY)

    def seed_finalizers(self: Typer) -> None:
        for f in self.ix.raw.finalizers:
            t = self.types.runtime.get(f.ot, -1)
            obj = self.ix.find(f.object)
            if t < 0 or obj < 0:
                continue
            ty = self.types.types[self.types.resolve(t)]
            if ty.tag == "pointer" and ty.target >= 0:
                self.propose(np.array([obj]), ty.target, SINGLE)
