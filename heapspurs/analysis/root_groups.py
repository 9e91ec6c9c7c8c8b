"""Roots as nodes of the retention graph, and what each one retains.

A root group is one node above the objects: a global variable (one per symbol when
``--program`` names them, else the whole data or BSS segment), a stack frame, a pending defer, a
panic, a finalizer; or, for ``--goroutines``, every frame and defer of the goroutines that share
one stack. Group R dominates object y exactly when R is the only group that reaches y (roots
are only entered from the super-root), so one labelling pass gives every group's retained size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from heapspurs.index import cache
from heapspurs.index.heap_index import CHUNK, HeapIndex
from heapspurs.index.workspace import scratch_for
from heapspurs.names.naming import names_of
from heapspurs.names.table import NameTable
from heapspurs.scan.raw import ROOT_BSS, ROOT_DATA, ROOT_KIND_NAMES

try:
    from heapspurs.analysis import _cgraph
except ImportError:  # pragma: no cover
    _cgraph = None

NONE = -1
MULTI = -2


@dataclass
class RootGroup:
    kind: str  # bss, data, frame, defer, panic, finalizer, queued_finalizer, other, goroutines
    ref: int  # the record (segment, frame, defer, ...) of its first root edge
    slot: int  # the first root edge's slot
    symbol: str | None = None  # the global, when names are known
    retained: int = 0
    objects: int = 0  # objects it retains


@dataclass
class Labelling:
    groups: list[RootGroup]
    label: np.ndarray  # int32 per object: the only group reaching it, MULTI or NONE


def _base_symbols(table: NameTable, slots: np.ndarray) -> np.ndarray:
    """Label id (into ``table.labels``) of the range holding each slot, or -1."""
    rows = table.rows(slots)
    return np.where(rows >= 0, table.ids[np.maximum(rows, 0)], -1)


def default_keys(ix: HeapIndex) -> tuple[np.ndarray, list[RootGroup]]:
    """Group id per root edge: per global (when symbols are known) or segment, per frame,
    defer, panic, finalizer record."""
    roots = ix.roots
    names = names_of(ix)
    keys: dict[tuple, int] = {}
    groups: list[RootGroup] = []
    gid = np.empty(len(roots.obj), np.int32)
    kinds = roots.kind.tolist()
    refs = roots.ref.tolist()
    slots = roots.slot.tolist()
    glob = (roots.kind == ROOT_BSS) | (roots.kind == ROOT_DATA)
    sym = np.full(len(roots.obj), -1, np.int64)
    static = np.full(len(roots.obj), -1, np.int64)
    if glob.any() and len(names.symbols):
        sym[glob] = _base_symbols(names.symbols, roots.slot[glob])
        static[glob] = _base_symbols(names.statics, roots.slot[glob])
    for i, (k, r, s) in enumerate(zip(kinds, refs, slots, strict=True)):
        kind = ROOT_KIND_NAMES[k]
        symbol = None
        if sym[i] >= 0:
            symbol = names.symbols.labels[int(sym[i])]
            key: tuple = ("global", symbol)
        elif static[i] >= 0:
            symbol = names.statics.labels[int(static[i])]
            key = ("global", symbol)
        else:
            key = (kind, r)
        g = keys.get(key)
        if g is None:
            g = keys[key] = len(groups)
            groups.append(RootGroup(kind, r, s, symbol))
        gid[i] = g
    return gid, groups


def blocked_for_labels(ix: HeapIndex) -> np.ndarray:
    """Nodes the labelling does not expand: phantoms, and goroutine descriptors (runtime.g),
    whose defer chains belong to their goroutine's defer roots, not to runtime.allgs."""
    return np.ascontiguousarray(ix.phantom | ix.is_goroutine, bool)


def label_objects(ix: HeapIndex, seed_obj: np.ndarray, seed_group: np.ndarray) -> np.ndarray:
    """For each object: the only group whose seeds reach it, MULTI, or NONE."""
    n = ix.count
    seed_obj = np.ascontiguousarray(seed_obj, np.int64)
    seed_group = np.ascontiguousarray(seed_group, np.int32)
    blocked = blocked_for_labels(ix)
    if _cgraph is not None:
        ws = scratch_for(ix, 12 * n + 4)  # the labels and the native code's queue
        out = ws.empty("labels", n, np.int32)
        queue = ws.empty("labels_queue", 2 * n + 1, np.int32)
        _cgraph.labels(np.ascontiguousarray(ix.pstart, np.int64),
                       np.ascontiguousarray(ix.pdst, np.int32), blocked.view(np.uint8),
                       seed_obj, seed_group, out, n, len(ix.pdst), len(seed_obj), queue)
        del queue
        ws.forget("labels_queue")
        return out
    return _label_python(ix, seed_obj, seed_group, blocked)


def _label_python(ix: HeapIndex, seed_obj: np.ndarray, seed_group: np.ndarray,
                  blocked: np.ndarray) -> np.ndarray:
    """The same as the native labelling, for where the extension is not built."""
    out = [NONE] * ix.count
    queue: list[int] = []

    def reach(v: int, label: int) -> None:
        """``label``'s group reaches v: v gets it, or MULTI if another group got there."""
        if out[v] == NONE:
            out[v] = label
            queue.append(v)
        elif out[v] not in (label, MULTI):
            out[v] = MULTI
            queue.append(v)

    for v, g in zip(seed_obj.tolist(), seed_group.tolist(), strict=True):
        reach(v, g)
    indptr, targets, stop = ix.pstart.tolist(), ix.pdst.tolist(), blocked.tolist()
    head = 0
    while head < len(queue):
        u = queue[head]
        head += 1
        if not stop[u]:
            for t in targets[indptr[u] : indptr[u + 1]]:
                if t >= 0:
                    reach(t, out[u])
    return np.array(out, np.int32)


def retained_by(ix: HeapIndex, label: np.ndarray, ngroups: int) -> tuple[np.ndarray, np.ndarray]:
    """(bytes, objects) each group alone retains."""
    nbytes = np.zeros(ngroups, np.int64)
    count = np.zeros(ngroups, np.int64)
    for lo in range(0, len(label), CHUNK):  # (in chunks: the temporaries are per object)
        part = label[lo : lo + CHUNK]
        mine = part >= 0
        size = ix.size[lo : lo + CHUNK][mine].astype(np.float64)
        nbytes += np.bincount(part[mine], weights=size, minlength=ngroups).astype(np.int64)
        count += np.bincount(part[mine], minlength=ngroups)
    return nbytes, count


def root_labelling(ix: HeapIndex) -> Labelling:
    """Every root group with what it retains (by the default grouping)."""
    return ix.memo.get("root_labelling", lambda: _labelling(ix))


def _labelling(ix: HeapIndex) -> Labelling:
    gid, groups = default_keys(ix)
    if names_of(ix).binary is None:  # grouped by segment: the same every time, keep it
        label = cache.derived(ix, "root_label", lambda: label_objects(ix, ix.roots.obj, gid))
    else:
        label = label_objects(ix, ix.roots.obj, gid)
    fill_retained(ix, label, groups)
    return Labelling(groups, label)


def fill_retained(ix: HeapIndex, label: np.ndarray, groups: Sequence[RootGroup]) -> None:
    nbytes, count = retained_by(ix, label, len(groups))
    for g, b, c in zip(groups, nbytes.tolist(), count.tolist(), strict=True):
        g.retained, g.objects = b, c
