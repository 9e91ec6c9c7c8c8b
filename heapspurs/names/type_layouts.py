"""How Go types lay out in memory, for typing the heap: each type's pointer words with what
each points at (a pointer's target type, a slice's element, a string's bytes, an interface's
dynamic value, an array whose length is the next word), field paths of byte offsets, leaf
fields for --hexdump, and the Go 1.24+ map helper types."""

from __future__ import annotations

import numpy as np

from heapspurs.names.dwarf_types import (
    KIND_CHAN,
    KIND_FUNC,
    KIND_MAP,
    KIND_PTR,
    KIND_SLICE,
    KIND_STRING,
    KIND_UNSAFE_POINTER,
    GoTypes,
)

MAX_WORDS = 1 << 16  # pointer words of one flattened type; bigger types are not used

# Actions of a pointer word: what the word's target is. COUNTED: an unsafe.Pointer to an array
# whose length is the next word (sync.Pool's local and victim, [localSize]sync.poolLocal).
# CHANBUF: a channel's buffer (hchan<T>.buf, an unsafe.Pointer to [dataqsiz]T; dataqsiz is
# the word before it). FUNCVAL: a func value, which points at a closure object (its first word
# names the function, whose DWARF lays out the rest: heapspurs.names.closures).
PTR, SLICE, STRING, EFACE, IFACE, OPAQUE, COUNTED, CHANBUF, FUNCVAL = range(9)
# Where the length of what an array-like word points at is, in words from that word.
LENGTH_WORD = {SLICE: 2, COUNTED: 1, CHANBUF: -1}
# How many values of a type a target object holds: exactly one; an array (a slice's backing
# store); or one or more (a plain pointer may point at the first of an array of T); NOSCAN:
# exactly one, allocated without pointer bits on purpose, which a rule has checked already.
SINGLE, ARRAY, ANY, NOSCAN = range(4)
COUNTED_FIELDS = {("sync.Pool", "local"): "sync.poolLocal",
                  ("sync.Pool", "victim"): "sync.poolLocal"}


def field_path(types: GoTypes, t: int, off: int, depth: int = 0) -> str:
    """The path of fields leading to byte ``off`` of a value of type ``t``."""
    t = types.resolve(t)
    if t < 0 or depth > 16:
        return ""
    ty = types.types[t]
    if ty.tag == "struct" and ty.fields and ty.name not in ("string",) and not (
            ty.name.startswith("[]") or ty.name in ("runtime.eface", "runtime.iface")):
        best = None
        for name, foff, ft in ty.fields:
            fsize = types.types[types.resolve(ft)].size if types.resolve(ft) >= 0 else 0
            if foff <= off < foff + max(fsize, 1):
                best = (name, foff, ft)
        if best is not None:
            return f".{best[0]}" + field_path(types, best[2], off - best[1], depth + 1)
    if ty.tag == "array" and ty.target >= 0:
        esize = types.types[types.resolve(ty.target)].size
        if esize > 0:
            return f"[{off // esize}]" + field_path(types, ty.target, off % esize, depth + 1)
    return ""


class Layouts:
    """Pointer words of each type: (offsets, actions, targets), flattened and cached."""

    def __init__(self, types: GoTypes, ptr: int):
        self.types = types
        self.ptr = ptr
        self.cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray] | None] = {}
        self.nih: dict[int, bool] = {}
        self.struct_ids = {t.name: i for i, t in enumerate(types.types) if t.tag == "struct"}
        self.type_ids: dict[str, int] = {}
        for i, t in enumerate(types.types):
            self.type_ids.setdefault(t.name, i)

    def of(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        if t in self.cache:
            return self.cache[t]
        words: list[tuple[int, int, int]] = []
        ok = self._walk(t, 0, words, 0)
        out = None
        if ok:
            words.sort()
            out = (np.array([w[0] for w in words], np.int64),
                   np.array([w[1] for w in words], np.int8),
                   np.array([w[2] for w in words], np.int64))
        self.cache[t] = out
        return out

    def _walk(self, t: int, base: int, out: list, depth: int) -> bool:
        types = self.types
        t = types.resolve(t)
        if t < 0 or depth > 64 or len(out) > MAX_WORDS:
            return t >= 0 and len(out) <= MAX_WORDS
        ty = types.types[t]
        if ty.tag == "pointer":
            target = types.resolve(ty.target)
            if target >= 0 and self.not_in_heap(target):
                return True  # the GC never follows pointers to not-in-heap memory
            if ty.kind == KIND_UNSAFE_POINTER or target < 0 or types.types[target].size == 0:
                out.append((base, OPAQUE, -1))
            else:
                out.append((base, PTR, ty.target))  # unresolved: keeps a typedef's name
            return True
        if ty.tag == "func" or ty.kind in (KIND_FUNC,):
            out.append((base, FUNCVAL, -1))
            return True
        if ty.tag == "struct":
            if ty.name in ("runtime.eface", "runtime.iface"):
                out.append((base + self.ptr, EFACE if ty.name == "runtime.eface" else IFACE, -1))
                return True
            if ty.kind == KIND_STRING or ty.name == "string":
                out.append((base, STRING, -1))
                return True
            if ty.kind == KIND_SLICE or (ty.name.startswith("[]") and ty.fields
                                         and ty.fields[0][0] == "array"):
                elem = ty.target if ty.target >= 0 else self._pointee(ty.fields[0][2])
                out.append((base, SLICE, elem) if elem >= 0 else (base, OPAQUE, -1))
                return True
            if ty.name.startswith("sync/atomic.Pointer[") and ty.fields:
                # atomic.Pointer[T]{_ [0]*T; _ noCopy; v unsafe.Pointer}: v is a *T.
                # (Generic shapes, go.shape.*, have the layout but no useful name: left out.)
                ptr_t = types.resolve(self._pointee(ty.fields[0][2]))
                target = types.types[ptr_t].target if ptr_t >= 0 and types.types[
                    ptr_t].tag == "pointer" else -1
                for fname, off, _ in ty.fields:
                    if fname == "v":
                        named = target >= 0 and not types.types[target].name.startswith(
                            "go.shape")
                        out.append((base + off, PTR, target) if named else (
                            base + off, OPAQUE, -1))
                return True
            if ty.name.startswith("hchan<") and ty.name.endswith(">"):
                fields = {fname: off for fname, off, _ in ty.fields}
                elem = self.type_ids.get(ty.name[6:-1], -1)
                buf = fields.get("buf")
                if buf is not None:
                    counted = elem >= 0 and fields.get("dataqsiz") == buf - self.ptr
                    out.append((base + buf, CHANBUF, elem) if counted else (
                        base + buf, OPAQUE, -1))
                # The rest of hchan: its wait queues and timer (buf is an unsafe.Pointer).
                for fname, off, ft in ty.fields:
                    if fname != "buf" and not self._walk(ft, base + off, out, depth + 1):
                        return False
                return True
            for fname, off, ft in ty.fields:
                counted = COUNTED_FIELDS.get((ty.name, fname))
                if counted is not None and counted in self.struct_ids:
                    out.append((base + off, COUNTED, self.struct_ids[counted]))
                    continue
                if not self._walk(ft, base + off, out, depth + 1):
                    return False
            return True
        if ty.tag == "array":
            elem = types.resolve(ty.target)
            if elem < 0 or ty.count == 0:
                return True
            sub: list[tuple[int, int, int]] = []
            if not self._walk(elem, 0, sub, depth + 1):
                return False
            if not sub:
                return True
            esize = types.types[elem].size
            if len(sub) * ty.count > MAX_WORDS or esize <= 0:
                return False
            for i in range(ty.count):
                out.extend((base + i * esize + o, a, g) for o, a, g in sub)
            return True
        return True  # base types: no pointers

    def not_in_heap(self, t: int) -> bool:
        """Does the struct embed sys.NotInHeap (directly or through struct fields)?"""
        memo = self.nih.get(t)
        if memo is not None:
            return memo
        self.nih[t] = False  # cycles through fields cannot happen, but be safe
        ty = self.types.types[t]
        found = ty.name.endswith("sys.NotInHeap") or ty.name.endswith("sys.nih")
        if not found and ty.tag == "struct":
            for _, _, ft in ty.fields:
                r = self.types.resolve(ft)
                if r >= 0 and self.types.types[r].tag in ("struct", "array") and (
                        self.not_in_heap(r)):
                    found = True
                    break
        if not found and ty.tag == "array" and ty.target >= 0:
            r = self.types.resolve(ty.target)
            found = r >= 0 and self.not_in_heap(r)
        self.nih[t] = found
        return found

    def _pointee(self, t: int) -> int:
        t = self.types.resolve(t)
        return self.types.types[t].target if t >= 0 else -1


def unique(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values (numpy's hash-based np.unique is slow on millions of ids)."""
    a = np.sort(np.asarray(a), kind="stable")
    if len(a) < 2:
        return a
    return a[np.concatenate(([True], a[1:] != a[:-1]))]


def _map_key_elem(struct_name: str) -> tuple[str, str] | None:
    """``map<K,V>`` -> (K, V), splitting at the top-level comma."""
    if not (struct_name.startswith("map<") and struct_name.endswith(">")):
        return None
    inner = struct_name[4:-1]
    depth = 0
    for i, ch in enumerate(inner):
        if ch in "<[({":
            depth += 1
        elif ch in ">])}":
            depth -= 1
        elif ch == "," and depth == 0:
            return inner[:i], inner[i + 1 :]
    return None


def swiss_small_map_groups(types: GoTypes) -> dict[int, int]:
    """For Go 1.24+ swiss maps: the map header struct (``map<K,V>``) -> its group type
    (``noalg.map.group[K]V``)."""
    by_name = {t.name: i for i, t in enumerate(types.types) if t.tag in ("struct", "typedef")}
    out: dict[int, int] = {}
    for i, t in enumerate(types.types):
        if t.tag != "struct":
            continue
        ke = _map_key_elem(t.name)
        if ke is None:
            continue
        group = by_name.get(f"noalg.map.group[{ke[0]}]{ke[1]}")
        if group is not None:
            out[i] = group
    return out


# Types the runtime allocates inside a bigger one: a *T points at the start of a U. Go 1.23+
# time.NewTimer and AfterFunc allocate a runtime.timeTimer whose first fields are a time.Timer.
ALLOCATED_AS = {"time.Timer": "runtime.timeTimer"}


def allocated_as(types: GoTypes) -> dict[int, int]:
    """Type index -> the type the runtime really allocates values of it as (ALLOCATED_AS)."""
    ids = {t.name: i for i, t in enumerate(types.types) if t.tag == "struct"}
    return {ids[a]: ids[b] for a, b in ALLOCATED_AS.items() if a in ids and b in ids}


# Types the runtime points into the middle of: a *T pointing at field F of a U (at F's offset)
# is a U, when the period word of the T there says so ("once": 0, "periodic": not 0, None:
# either). The runtime's timer heaps point at the timer inside time.Timer and time.Ticker (Go
# 1.21-1.22: field r; the two differ only in their period) or inside runtime.timeTimer (1.23+).
EMBEDDED = {"runtime.timer": (("runtime.timeTimer", "timer", None), ("time.Timer", "r", "once"),
                              ("time.Ticker", "r", "periodic"))}


def embedded_in(types: GoTypes) -> dict[int, list[tuple[int, int, int, str | None]]]:
    """Type index -> [(container type, field offset, offset of the period word in the field
    or -1, predicate)] (EMBEDDED), for the containers this binary has."""
    ids = {t.name: i for i, t in enumerate(types.types) if t.tag == "struct" and t.fields}
    out: dict[int, list[tuple[int, int, int, str | None]]] = {}
    for inner, containers in EMBEDDED.items():
        if inner not in ids:
            continue
        period = next((o for f, o, _ in types.types[ids[inner]].fields if f == "period"), -1)
        for outer, field_name, when in containers:
            if outer not in ids:
                continue
            off = next((o for f, o, _ in types.types[ids[outer]].fields if f == field_name), None)
            if off is not None and (when is None or period >= 0):
                out.setdefault(ids[inner], []).append((ids[outer], off, period, when))
    return out


SHAPE = "go.shape."
TRIE = "internal/sync."  # Go 1.24+ HashTrieMap (sync.Map, unique): node, entry, indirect


def trie_node_kinds(types: GoTypes) -> dict[int, tuple[int, int]]:
    """For Go 1.24+ HashTrieMaps: each ``internal/sync.node[K,V]`` struct -> the
    (``entry[K,V]``, ``indirect[K,V]``) structs a *node may really point at. Where the binary
    has only the generic shape of one (``entry[go.shape.K,...]``), that shape's layout
    serves; its name is shown without ``go.shape.``."""
    structs: dict[str, int] = {}
    for i, t in enumerate(types.types):
        if t.tag == "struct" and t.name.startswith(TRIE):
            plain = t.name.replace(SHAPE, "")
            if plain == t.name or plain not in structs:
                structs[plain] = i
    out: dict[int, tuple[int, int]] = {}
    for name, i in structs.items():
        if name.startswith(TRIE + "node["):
            args = name[len(TRIE + "node"):]
            entry = structs.get(f"{TRIE}entry{args}")
            indirect = structs.get(f"{TRIE}indirect{args}")
            if entry is not None and indirect is not None:
                out[i] = (entry, indirect)
    return out


def pointer_shaped(types: GoTypes, t: int) -> bool:
    """Is a value of type t stored directly in an interface's data word?"""
    t = types.resolve(t)
    if t < 0:
        return False
    ty = types.types[t]
    return ty.tag in ("pointer", "func") or ty.kind in (KIND_PTR, KIND_MAP, KIND_CHAN,
                                                        KIND_FUNC, KIND_UNSAFE_POINTER)


def leaf_fields(types: GoTypes, t: int, base: int = 0, prefix: str = "",
                limit: int = 64) -> list[tuple[str, str, int, int, str]]:
    """(path, type name, offset, size, shape) of the leaf fields of type ``t`` (strings,
    slices, interfaces and pointers count as leaves), at most ``limit``."""
    out: list[tuple[str, str, int, int, str]] = []

    def walk(t: int, base: int, prefix: str, depth: int) -> None:
        if len(out) >= limit or depth > 16:
            return
        r = types.resolve(t)
        if r < 0:
            return
        ty = types.types[r]
        name = types.types[t].name or ty.name
        if ty.tag == "struct" and ty.name == "string":
            out.append((prefix, name, base, ty.size, "string"))
        elif ty.tag == "struct" and (ty.kind == 23 or ty.name.startswith("[]")):
            out.append((prefix, name, base, ty.size, "slice"))
        elif ty.tag == "struct" and ty.name in ("runtime.eface", "runtime.iface"):
            out.append((prefix, name, base, ty.size, "interface"))
        elif ty.tag == "struct" and ty.fields:
            for fname, foff, ft in ty.fields:
                walk(ft, base + foff, f"{prefix}.{fname}", depth + 1)
        elif ty.tag == "array" and ty.target >= 0 and ty.count:
            esize = types.types[types.resolve(ty.target)].size if types.resolve(
                ty.target) >= 0 else 0
            for i in range(min(ty.count, 16)):
                walk(ty.target, base + i * esize, f"{prefix}[{i}]", depth + 1)
        elif ty.tag in ("pointer", "func"):
            out.append((prefix, name, base, ty.size, "pointer"))
        else:
            out.append((prefix, name, base, ty.size, "value"))

    walk(t, base, prefix, 0)
    return out
