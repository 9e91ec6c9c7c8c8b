"""Type the heap: propagate Go types from the binary's DWARF (globals, malloc headers, finalizer
object types) through typed pointer fields to the objects they point at, the way viewcore types
a core file. Works a whole frontier at a time per type (numpy), not object by object, in pieces
of bounded size (:mod:`heapspurs.names.typer`).

Every typing is checked against the dump: the type's pointer words (repeated for arrays) must be
exactly the object's pointer slots in the dump, else the typing is rejected. The first accepted
typing wins; later different ones are counted as conflicts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heapspurs.index.geometry import MALLOC_HEADER
from heapspurs.index.heap_index import HeapIndex
from heapspurs.index.memory import give_back
from heapspurs.names.dwarf_types import GoTypes
from heapspurs.names.slot_pieces import BUDGET
from heapspurs.names.type_layouts import field_path
from heapspurs.names.typer import STRING_DATA, Typer
from heapspurs.scan.raw import ROOT_FRAME

TYPING_FORMAT = 6  # bump when typing changes what it gives (cached typings are then redone)
ARRAYS = ("object_type", "elem", "via", "why")  # what is cached of a typing
# Why an object is untyped, by code (Typing.untyped_reasons): the typer's own codes first.
UNTYPED_REASONS = ("", "typed candidates disagree with the dump (size or pointer slots)",
                   "closure whose captured variables DWARF does not lay out",
                   "noscan, no typed pointer reaches it", "no typed pointer reaches it",
                   "held only by stack frames DWARF gives no type for at their pc",
                   "unreachable")
NOSCAN_UNREACHED, UNREACHED, FRAMES_ONLY, UNREACHABLE = 3, 4, 5, 6


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
    why: np.ndarray | None = None  # int8 per object: the typer's reason code (REJECTED...)

    def untyped_reasons(self, ix: HeapIndex, objs: np.ndarray,
                        reachable: np.ndarray) -> np.ndarray:
        """Per object of ``objs``: 0 when typed, else the index of why it is not in
        UNTYPED_REASONS (``reachable``: the heap's reachability mask)."""
        objs = np.asarray(objs, np.int64)
        code = np.where(np.asarray(ix.pstart[objs + 1]) == np.asarray(ix.pstart[objs]),
                        NOSCAN_UNREACHED, UNREACHED).astype(np.int8)
        owners = np.asarray(ix.rstart[objs + 1]) - np.asarray(ix.rstart[objs])
        frames = np.zeros(ix.count, bool)
        frames[ix.roots.obj[ix.roots.kind == ROOT_FRAME]] = True
        code[(owners == 0) & frames[objs]] = FRAMES_ONLY
        if self.why is not None:
            mine = self.why[objs]
            code = np.where(mine > 0, mine, code)
        code[~reachable[objs]] = UNREACHABLE
        code[self.object_type[objs] >= 0] = 0
        return code

    def kind_labels(self, objs: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """(label id per object or -1, labels) for counting by kind: the type, with byte
        arrays and string data reached through a field grouped by that field
        (``[]uint8 (main.Entry.Payload)``) instead of by length."""
        width = len(self.via_names or []) + 1
        kind = np.int32 if (len(self.names) + 1) * width < 1 << 31 else np.int64
        t = self.object_type[objs].astype(kind)
        v = self.via[objs].astype(kind) if self.via is not None else np.full(len(objs), -1, kind)
        key = t * width
        key += v + 1
        key[t < 0] = -1
        del t, v
        distinct, inv = dense_unique(key)
        labels = []
        for k in distinct.tolist():
            if k < 0:
                labels.append("")
                continue
            ti, vi = divmod(k, width)
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


def dense_unique(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(key, return_inverse=True) for keys from -1 to a few million (a count per key
    instead of a sort: a fraction of the memory on millions of objects)."""
    top = int(key.max()) if len(key) else -1
    if top >= 1 << 26:
        return np.unique(key, return_inverse=True)
    counts = np.bincount(key + 1, minlength=top + 2)
    present = np.flatnonzero(counts)
    lut = np.zeros(len(counts), np.int32)
    lut[present] = np.arange(len(present), dtype=np.int32)
    return present - 1, lut[key + 1]


def type_heap(ix: HeapIndex, types: GoTypes, budget: int = BUDGET) -> Typing:
    """Type the heap, working on at most about ``budget`` objects and pointer slots at a
    time (the result does not depend on it)."""
    typer = Typer(ix, types, budget)
    typer.seed_globals()
    typer.seed_finalizers()
    typer.run()
    typer.seed_frames()
    typer.seed_frame_closures()
    typer.run()
    typer.seed_headers()  # after propagation: a check on it, and types for the rest
    typer.run()
    typer.run_late()
    typer.done()
    typing = Typing(typer.object_type, typer.names, typer.conflicts, typer.rejected,
                    typer.elem, types, np.asarray(ix.header, bool), typer.via, typer.via_names,
                    typer.why)
    del typer  # with its working arrays
    give_back()
    return typing


def cached_typing(ix: HeapIndex, types: GoTypes, binary_key: str) -> Typing:
    """:func:`type_heap`, kept beside the cached index per binary (arrays and a JSON list of
    names): typing a big heap takes seconds, reading it back milliseconds."""
    from heapspurs.index import cache

    name = f"types{TYPING_FORMAT}_{binary_key[:16]}"
    meta = cache.extra_json(ix, name)
    if isinstance(meta, dict) and meta.get("count") == ix.count:
        try:
            arrays = {k: cache.derived(ix, f"{name}_{k}", _missing) for k in ARRAYS}
            return Typing(arrays["object_type"], list(meta["names"]), int(meta["conflicts"]),
                          int(meta["rejected"]), arrays["elem"], types,
                          np.asarray(ix.header, bool), arrays["via"], list(meta["via_names"]),
                          arrays["why"])
        except (LookupError, ValueError, TypeError):
            pass
    typing = type_heap(ix, types)
    for k in ARRAYS:
        value = getattr(typing, k)
        setattr(typing, k, cache.derived(ix, f"{name}_{k}", lambda v=value: v))
        del value
    cache.save_extra_json(ix, name, {"count": ix.count, "names": typing.names,
                                     "via_names": typing.via_names,
                                     "conflicts": typing.conflicts,
                                     "rejected": typing.rejected})
    return typing


def _missing() -> np.ndarray:
    raise LookupError("a cached typing array is missing")
