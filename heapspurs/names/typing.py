"""Type the heap: propagate Go types from the binary's DWARF (globals, malloc headers, finalizer
object types) through typed pointer fields to the objects they point at, the way viewcore types
a core file. Works a whole frontier at a time per type (numpy), not object by object.

Every typing is checked against the dump: the type's pointer words (repeated for arrays) must be
exactly the object's pointer slots in the dump, else the typing is rejected. The first accepted
typing wins; later different ones are counted as conflicts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from heapspurs.index.geometry import MALLOC_HEADER
from heapspurs.index.heap_index import HeapIndex
from heapspurs.names.dwarf_types import GoTypes
from heapspurs.names.type_layouts import (
    CHANBUF,
    COUNTED,
    EFACE,
    IFACE,
    LENGTH_WORD,
    PTR,
    SHAPE,
    SLICE,
    STRING,
    Layouts,
    field_path,
    pointer_shaped,
    swiss_small_map_groups,
    trie_node_kinds,
    unique,
)
from heapspurs.scan.address_order import gather_ranges
from heapspurs.scan.raw import ROOT_BSS, ROOT_DATA

TYPING_FORMAT = 5  # bump when typing changes what it gives (cached typings are then redone)
STRING_DATA = "string data"

# How many values of the type a target object holds: exactly one; an array (a slice's backing
# store); or one or more (a plain pointer may point at the first of an array of T).
SINGLE, ARRAY, ANY = range(3)


@dataclass
class Typing:
    object_type: np.ndarray  # int32 per object: index into names, or -1
    names: list[str]
    conflicts: int = 0
    rejected: int = 0
    elem: np.ndarray | None = None  # int32 per object: DWARF type of (each element of) it
    types: GoTypes | None = None
    header: np.ndarray | None = None  # bool per object: has a malloc header
    via: np.ndarray | None = None  # int32 per object: the field that first led to it, or -1
    via_names: list[str] | None = None  # e.g. "main.Entry.Payload"

    def kind_labels(self, objs: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """(label id per object or -1, labels) for counting by kind: the type, with byte
        arrays and string data reached through a field grouped by that field
        (``[]uint8 (main.Entry.Payload)``) instead of by length."""
        t = self.object_type[objs].astype(np.int64)
        v = self.via[objs].astype(np.int64) if self.via is not None else np.full(len(objs), -1)
        key = np.where(t >= 0, t * (len(self.via_names or []) + 1) + v + 1, -1)
        distinct, inv = np.unique(key, return_inverse=True)
        labels = []
        for k in distinct.tolist():
            if k < 0:
                labels.append("")
                continue
            ti, vi = divmod(k, len(self.via_names or []) + 1)
            name = self.names[ti]
            if vi and (name.startswith("[") or name == STRING_DATA):
                elem = name.split("]", 1)[1] if name.startswith("[") else ""
                name = (f"[]{elem}" if elem else name) + f" ({self.via_names[vi - 1]})"
            labels.append(name)
        ids = np.where(key >= 0, inv, -1)
        return ids, labels

    def type_name(self, obj: int) -> str | None:
        t = int(self.object_type[obj]) if obj >= 0 else -1
        return self.names[t] if t >= 0 else None

    def field_at(self, obj: int, offset: int) -> str | None:
        """The field of ``obj`` at byte ``offset`` of its record: ``.Buf``, ``[3]``,
        ``[3].Next`` (None when the object is untyped)."""
        if self.elem is None or self.types is None or obj < 0 or self.elem[obj] < 0:
            return None
        t = int(self.elem[obj])
        off = offset - (MALLOC_HEADER if self.header is not None and self.header[obj] else 0)
        if off < 0:
            return None
        size = self.types.types[self.types.resolve(t)].size
        prefix = ""
        name = self.type_name(obj) or ""
        if name.startswith("[") and size > 0:
            prefix = f"[{off // size}]"
            off %= size
        return prefix + field_path(self.types, t, off)


class Typer:
    def __init__(self, ix: HeapIndex, types: GoTypes):
        self.ix = ix
        self.types = types
        self.ptr = ix.params.ptr_size
        self.layouts = Layouts(types, self.ptr)
        self.hdr = np.where(ix.header, MALLOC_HEADER, 0).astype(np.int64)
        self.object_type = np.full(ix.count, -1, np.int32)
        self.elem = np.full(ix.count, -1, np.int32)
        self.small_group = np.zeros(ix.count, bool)  # reached as a small map's only group
        self.via = np.full(ix.count, -1, np.int32)
        self.via_names: list[str] = []
        self.via_ids: dict[str, int] = {}
        self.names: list[str] = []
        self.name_ids: dict[str, int] = {}
        self.conflicts = 0
        self.rejected = 0
        self.pending: dict[tuple[int, int], list[np.ndarray]] = defaultdict(list)
        self.late: dict[tuple[int, int], list[np.ndarray]] = defaultdict(list)
        self.buf = np.frombuffer(ix._map(), np.uint8)
        self.cap_hint = np.full(ix.count, -1, np.int64)  # slice capacity seen for an array
        self.itabs = {i.address: i.type_address for i in ix.raw.itabs}
        self.small_map_group = swiss_small_map_groups(types)
        self.trie_nodes = trie_node_kinds(types)

    # ---- reading words of the dump ----
    def words_at(self, file_offsets: np.ndarray) -> np.ndarray:
        off = np.asarray(file_offsets, np.int64)
        out = np.zeros(len(off), np.uint64)
        big = self.ix.params.big_endian
        for k in range(self.ptr):
            shift = (self.ptr - 1 - k) if big else k
            out |= self.buf[off + k].astype(np.uint64) << np.uint64(8 * shift)
        return out

    def name_id(self, name: str) -> int:
        i = self.name_ids.get(name)
        if i is None:
            i = self.name_ids[name] = len(self.names)
            self.names.append(name)
        return i

    # ---- candidates ----
    def propose(self, objs: np.ndarray, t: int, mode: int) -> None:
        objs = np.asarray(objs, np.int64)
        objs = objs[(objs >= 0)]
        if len(objs) and t >= 0:
            self.pending[(int(t), int(mode))].append(objs)

    def reached(self, objs: np.ndarray, vals: np.ndarray) -> np.ndarray:
        """Which pointer values point at the start of their object (past the malloc
        header)."""
        return vals == self.ix.addr[objs] + self.hdr[objs].astype(np.uint64)

    def propose_reached(self, objs: np.ndarray, vals: np.ndarray, t: int, mode: int) -> None:
        """Type the objects that pointer values point at the start of as values of type
        ``t``. A slice (mode ARRAY) pointing at an element boundary inside its object (a
        slice of the middle of an array) types the object too, but only once propagation is
        over and only if nothing typed it: a slice of an array field of a struct looks the
        same, and the struct's own typing must win."""
        start = self.reached(objs, vals)
        self.propose(objs[start], t, mode)
        esize = self.types.types[self.types.resolve(t)].size if t >= 0 else 0
        if mode == ARRAY and esize > 0:
            delta = vals[~start].astype(np.int64) - (self.ix.addr[objs[~start]].astype(
                np.int64) + self.hdr[objs[~start]])
            inside = objs[~start][(delta > 0) & (delta % esize == 0)]
            if len(inside):
                self.late[(int(t), mode)].append(inside)

    def slot_targets(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(target object, pointer value) of pointer slots (indexes into the index's slot
        arrays) that point into an object."""
        dst = self.ix.pdst[slots].astype(np.int64)
        ok = dst >= 0
        return dst[ok], self.ix.pval[slots[ok]]

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
        is_entry = self.buf[self.ix.off[objs].astype(np.int64) + self.hdr[objs]] != 0
        self.propose(objs[is_entry], entry, SINGLE)
        self.propose(objs[~is_entry], indirect, SINGLE)

    # ---- one round: verify and assign the pending candidates, type by type ----
    def run(self, max_rounds: int = 10_000) -> None:
        rounds = 0
        while self.pending and rounds < max_rounds:
            rounds += 1
            pending, self.pending = self.pending, defaultdict(list)
            for (t, mode), parts in pending.items():
                objs = unique(np.concatenate(parts))
                self.assign(objs, t, mode)

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
        """Type ``objs`` as values of type ``t`` (a typedef keeps its name), if the dump's
        pointer slots agree, and propose what their typed pointer words point at."""
        ix = self.ix
        objs = objs[~ix.phantom[objs]]
        taken = self.object_type[objs] >= 0
        # A small map's dirPtr leads to its group, typed already: not a conflict.
        taken_counted = taken & ~self.small_group[objs]
        if taken_counted.any():  # typed before: a conflict when the element type differs
            ty_name = self.types.types[t].name
            for existing in unique(self.object_type[objs[taken_counted]]).tolist():
                name = self.names[existing]
                if name != ty_name and not name.endswith("]" + ty_name):
                    self.conflicts += int(
                        (self.object_type[objs[taken_counted]] == existing).sum())
        objs = objs[~taken]
        if not len(objs):
            return
        layout = self.layouts.of(t)
        type_name = self.types.types[t].name.replace(SHAPE, "")
        ty = self.types.types[self.types.resolve(t)]
        if layout is None or (ty.size <= 0 and len(layout[0])):
            self.rejected += len(objs)
            return
        offs, acts, tgts = layout
        npw = len(offs)
        data = (ix.size[objs].astype(np.int64) - self.hdr[objs])
        count = ix.pstart[objs + 1] - ix.pstart[objs]
        array = mode != SINGLE
        exact = np.zeros(len(objs), bool)  # the dump's pointer slots give the length
        if npw == 0:
            ok = (count == 0) & (data >= ty.size)
            reps = np.where(ok, np.maximum(data // max(ty.size, 1), 1), 0) if mode == ARRAY else (
                ok.astype(np.int64))
        else:
            reps = count // npw
            ok = (count % npw == 0) & (reps >= 1) & (reps * ty.size <= data)
            exact = ok & ~ix.header[objs]
            if mode == SINGLE:
                ok &= reps == 1
            else:
                # Objects typed from their malloc header are scanned with the type repeated
                # to the end of the allocation: the last element may be cut short.
                full = data // max(ty.size, 1)
                fill = full * npw + np.searchsorted(offs, data - full * ty.size)
                filled = ~ok & (count == fill) & (full >= 1)
                reps = np.where(filled, full, reps)
                ok |= filled
        good = objs[ok]
        reps = reps[ok]
        data = data[ok]
        exact = exact[ok]
        if npw and len(good):
            # Every slot must sit where the type says: offset of its word + element start.
            starts = ix.pstart[good]
            cnt = (ix.pstart[good + 1] - starts).astype(np.int64)
            slots = gather_ranges(starts, cnt)
            owner = np.repeat(np.arange(len(good)), cnt)
            j = slots - np.repeat(starts, cnt)
            expect = offs[j % npw] + (j // npw) * ty.size + np.repeat(self.hdr[good], cnt)
            bad_slot = ix.poff[slots].astype(np.int64) != expect
            bad_obj = np.zeros(len(good), bool)
            bad_obj[owner[bad_slot]] = True
            self.rejected += int(bad_obj.sum())
            keep = ~bad_obj
            good, reps, data, exact = good[keep], reps[keep], data[keep], exact[keep]
            slot_keep = keep[owner]
            slots, j = slots[slot_keep], j[slot_keep]
        self.rejected += int((~ok).sum())
        if not len(good):
            return
        # Names: T, or [n]T for arrays.
        if array:
            # [cap]T where a slice header said its capacity (the dump's pointer slots may run
            # to the end of the size class), else as many elements as the slots hold.
            cap = self.cap_hint[good]
            fits = (cap >= 1) & (cap * max(ty.size, 1) <= data) & ((cap <= reps) | (npw == 0))
            # Otherwise the length is known from an exact set of pointer slots, or not at all.
            only_one = data < 2 * max(ty.size, 1)  # room for one element only
            n_elems = np.where(fits, cap, np.where(
                exact | only_one | ((reps == 1) & (mode == ANY)), np.where(only_one, 1, reps),
                -1))
            for n in unique(n_elems).tolist():
                sel = good[n_elems == n]
                name = (type_name if n == 1 else f"[{n}]{type_name}" if n > 1
                        else f"[...]{type_name}")
                self.object_type[sel] = self.name_id(name)
        else:
            self.object_type[good] = self.name_id(type_name or "?")
        self.elem[good] = t
        group = self.small_map_group.get(self.types.resolve(t))
        if group is not None:
            self.type_small_map_groups(good[reps == 1], group)
        if not npw:
            return
        field = j % npw
        act = acts[field]
        tgt = tgts[field]
        self.note_via(slots, field, act, t, offs, ty.size)
        for a in (PTR, SLICE, COUNTED, CHANBUF):
            sel = act == a
            if sel.any():
                if a in LENGTH_WORD:  # the capacity: a slice's third word, ...
                    src = np.searchsorted(ix.pstart, slots[sel], side="right") - 1
                    cap_off = (ix.off[src].astype(np.int64) + ix.poff[slots[sel]].astype(
                        np.int64) + LENGTH_WORD[a] * self.ptr)
                    inside = (cap_off >= ix.off[src].astype(np.int64)) & (
                        cap_off + self.ptr <= (ix.off[src] + ix.size[src]).astype(np.int64))
                    self.hint_caps(slots[sel][inside], self.words_at(cap_off[inside]))
                for target_type in unique(tgt[sel]).tolist():
                    pick = slots[sel & (tgt == target_type)]
                    self.propose_targets(pick, int(target_type), ANY if a == PTR else ARRAY)
        sel = act == STRING
        if sel.any():
            self.type_strings(slots[sel])
        for a in (EFACE, IFACE):
            sel = act == a
            if sel.any():
                self.type_interfaces(slots[sel], a == IFACE)

    def note_via(self, slots: np.ndarray, field: np.ndarray, act: np.ndarray, t: int,
                 offs: np.ndarray, size: int) -> None:
        """Remember, for what slices and strings point at, the field they are in."""
        sel = (act == SLICE) | (act == STRING)
        if not sel.any():
            return
        owner = self.types.types[t].name
        for f in unique(field[sel]).tolist():
            path = field_path(self.types, t, int(offs[f]) % max(size, 1))
            if not path.startswith(".") or not owner:
                continue  # only named fields of structs say where memory comes from
            label = f"{owner}{path}"
            vid = self.via_ids.get(label)
            if vid is None:
                vid = self.via_ids[label] = len(self.via_names)
                self.via_names.append(label)
            dst = self.ix.pdst[slots[sel & (field == f)]].astype(np.int64)
            dst = dst[dst >= 0]
            dst = dst[self.via[dst] < 0]
            self.via[dst] = vid

    def type_small_map_groups(self, maps: np.ndarray, group: int) -> None:
        """A Go 1.24+ map with at most 8 entries has no directory: dirPtr (offset 16) points at
        its one group when dirLen (offset 24) is 0."""
        ix = self.ix
        base = ix.off[maps].astype(np.int64) + self.hdr[maps]
        dir_len = self.words_at(base + 3 * self.ptr)
        dir_ptr = self.words_at(base + 2 * self.ptr)
        small = (dir_len == 0) & (dir_ptr != 0)
        targets = ix.resolve(dir_ptr[small]).astype(np.int64)
        ok = targets >= 0
        targets, vals = targets[ok], dir_ptr[small][ok]
        at_start = vals == ix.addr[targets] + self.hdr[targets].astype(np.uint64)
        self.small_group[targets[at_start]] = True
        self.propose(targets[at_start], group, SINGLE)

    def hint_caps(self, slots: np.ndarray, caps: np.ndarray) -> None:
        """Capacities of slices that start at their array's start (a slice of the middle
        of an array says nothing of the array's length)."""
        dst = self.ix.pdst[slots].astype(np.int64)
        ok = (dst >= 0) & (caps < np.uint64(1 << 40))
        ok[ok] = self.reached(dst[ok], self.ix.pval[slots[ok]])
        self.cap_hint[dst[ok]] = caps[ok].astype(np.int64)

    def type_strings(self, slots: np.ndarray) -> None:
        dst = self.ix.pdst[slots].astype(np.int64)
        self.type_string_data(dst[dst >= 0])

    def type_string_data(self, objs: np.ndarray) -> None:
        """Objects a string points into (at any offset: a substring keeps its whole
        allocation) are string data, when they hold no pointers and have no type yet."""
        ix = self.ix
        fresh = objs[(self.object_type[objs] < 0) & ~ix.phantom[objs]
                     & (ix.pstart[objs + 1] == ix.pstart[objs])]
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
        off = int(self.ix.off[obj]) + itab - int(self.ix.addr[obj]) + self.ptr
        if off + self.ptr > int(self.ix.off[obj] + self.ix.size[obj]):
            return None
        return int(self.words_at(np.array([off]))[0])

    def type_interfaces(self, slots: np.ndarray, iface: bool) -> None:
        """The data word's target gets the dynamic type from the type/itab word before it."""
        ix = self.ix
        obj = np.searchsorted(ix.pstart, slots, side="right") - 1
        word_off = ix.off[obj].astype(np.int64) + ix.poff[slots].astype(np.int64) - self.ptr
        dyn = self.interface_types(self.words_at(word_off), iface)
        self._type_interface_targets(slots, dyn)

    def _type_interface_targets(self, slots: np.ndarray, dyn: np.ndarray) -> None:
        for d in unique(dyn[dyn >= 0]).tolist():
            pick = slots[dyn == d]
            if pointer_shaped(self.types, d):
                ty = self.types.types[self.types.resolve(d)]
                if ty.tag == "pointer" and ty.target >= 0:
                    self.propose_targets(pick, ty.target, ANY)
            else:
                self.propose_targets(pick, d, SINGLE)

    # ---- seeds ----
    def seed_globals(self) -> None:
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
            if act in (PTR, SLICE, COUNTED, CHANBUF):
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
            else:
                mode = ANY if act == PTR else ARRAY
                if act in LENGTH_WORD:  # the length: a slice's third word, ...
                    step = LENGTH_WORD[act]
                    at_start = self.reached(objs, vals)
                    for row in np.asarray(rows)[at_start].tolist():
                        cap = self._segment_word(int(roots.slot[row]) + step * self.ptr)
                        if cap is not None and cap < 1 << 40:
                            self.cap_hint[int(roots.obj[row])] = cap
                self.propose_reached(objs, vals, tgt, mode)
        for row, word_addr, iface in eface:
            word = self._segment_word(word_addr)
            if word is None:
                continue
            d = int(self.interface_types(np.array([word], np.uint64), iface)[0])
            if d < 0:
                continue
            obj = int(roots.obj[row])
            if int(roots.value[row]) == int(ix.addr[obj]) + int(self.hdr[obj]):
                self.propose_dynamic(obj, d)

    def typed_regions(self) -> list[tuple[int, int]]:
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

    def propose_dynamic(self, obj: int, d: int) -> None:
        """An interface's data word points at ``obj`` and its dynamic type is ``d``: a pointer
        type's pointee, or (a value boxed in the heap) ``d`` itself."""
        if pointer_shaped(self.types, d):
            ty = self.types.types[self.types.resolve(d)]
            if ty.tag == "pointer" and ty.target >= 0:
                self.propose(np.array([obj]), ty.target, ANY)
        else:
            self.propose(np.array([obj]), d, SINGLE)

    def _segment_word(self, address: int) -> int | None:
        for s in self.ix.raw.segments:
            if s.address <= address and address + self.ptr <= s.end:
                off = s.contents_offset + address - s.address
                return int(self.words_at(np.array([off]))[0])
        return None

    def seed_frames(self) -> None:
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
        for f in range(len(raw.frame_sp)):
            pc = np.uint64(int(raw.frame_pc[f]) - 1)
            live = np.nonzero((begin_a <= pc) & (pc < end_a))[0]
            if not len(live):
                continue
            sp = int(raw.frame_sp[f])
            cfa = sp + int(raw.frame_size[f])
            s0, s1 = int(raw.frame_pstart[f]), int(raw.frame_pstart[f + 1])
            slot_of = {sp + int(o): k for k, o in enumerate(raw.fptr_off[s0:s1].tolist())}
            if not slot_of:
                continue
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
                        if act in (PTR, SLICE, STRING, COUNTED, CHANBUF):
                            by_action[(act, tgt)].append(s0 + j)
                            # (No capacity from frames: DWARF may place a whole slice
                            # header in the frame where only its pointer was spilled.)
                        elif act in (EFACE, IFACE):
                            ifaces.append((s0 + j, addr - self.ptr - sp + int(raw.frame_off[f]),
                                           act == IFACE))
        values = raw.fptr_val
        for (act, tgt), fslots in by_action.items():
            vals = values[np.array(fslots, np.int64)]
            objs = ix.resolve(vals).astype(np.int64)
            ok = objs >= 0
            objs, vals = objs[ok], vals[ok]
            if act == STRING:
                self.type_string_data(objs)
            else:
                mode = ANY if act == PTR else ARRAY
                self.propose_reached(objs, vals, tgt, mode)
        for fslot, word_at, iface in ifaces:
            d = int(self.interface_types(self.words_at(np.array([word_at])), iface)[0])
            obj = ix.find(int(values[fslot]))
            if d >= 0 and obj >= 0 and int(values[fslot]) == int(ix.addr[obj]) + int(
                    self.hdr[obj]):
                self.propose_dynamic(obj, d)

    def seed_headers(self) -> None:
        """Objects with a malloc header name their type descriptor in their first word."""
        ix = self.ix
        objs = np.nonzero(ix.header & ~ix.phantom)[0]
        if not len(objs):
            return
        desc = self.words_at(ix.off[objs].astype(np.int64))
        for d in unique(desc).tolist():
            t = self.types.runtime.get(int(d), -1)
            if t >= 0:
                self.propose(objs[desc == d], t, ARRAY)

    def seed_finalizers(self) -> None:
        for f in self.ix.raw.finalizers:
            t = self.types.runtime.get(f.ot, -1)
            obj = self.ix.find(f.object)
            if t < 0 or obj < 0:
                continue
            ty = self.types.types[self.types.resolve(t)]
            if ty.tag == "pointer" and ty.target >= 0:
                self.propose(np.array([obj]), ty.target, SINGLE)


def type_heap(ix: HeapIndex, types: GoTypes) -> Typing:
    typer = Typer(ix, types)
    typer.seed_globals()
    typer.seed_finalizers()
    typer.run()
    typer.seed_frames()
    typer.run()
    typer.seed_headers()  # after propagation: a check on it, and types for the rest
    typer.run()
    typer.run_late()
    return Typing(typer.object_type, typer.names, typer.conflicts, typer.rejected, typer.elem,
                  types, np.asarray(ix.header, bool), typer.via, typer.via_names)


def cached_typing(ix: HeapIndex, types: GoTypes, binary_key: str) -> Typing:
    """:func:`type_heap`, kept beside the cached index per binary (arrays and a JSON list of
    names): typing a big heap takes seconds, reading it back milliseconds."""
    from heapspurs.index import cache

    name = f"types{TYPING_FORMAT}_{binary_key[:16]}"
    meta = cache.extra_json(ix, name)
    if isinstance(meta, dict) and meta.get("count") == ix.count:
        try:
            arrays = {k: cache.derived(ix, f"{name}_{k}", _missing)
                      for k in ("object_type", "elem", "via")}
            return Typing(arrays["object_type"], list(meta["names"]), int(meta["conflicts"]),
                          int(meta["rejected"]), arrays["elem"], types,
                          np.asarray(ix.header, bool), arrays["via"], list(meta["via_names"]))
        except (LookupError, ValueError, TypeError):
            pass
    typing = type_heap(ix, types)
    for k in ("object_type", "elem", "via"):
        value = getattr(typing, k)
        cache.derived(ix, f"{name}_{k}", lambda v=value: v)
    cache.save_extra_json(ix, name, {"count": ix.count, "names": typing.names,
                                     "via_names": typing.via_names,
                                     "conflicts": typing.conflicts,
                                     "rejected": typing.rejected})
    return typing


def _missing() -> np.ndarray:
    raise LookupError("a cached typing array is missing")
