"""Owners: the tree of who points at an object, N levels up (or all the way to the roots).

Each object is expanded once: a second meeting is marked ``seen`` (or ``cycle`` when it is one of
its own owners' owners), so cycles and shared owners never make the tree explode.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from heapspurs.index.heap_index import HeapIndex
from heapspurs.scan.raw import ROOT_KIND_NAMES


@dataclass
class OwnerNode:
    kind: str  # "object" or a root kind (bss, data, frame, defer, panic, finalizer, ...)
    slot: int  # address of the pointer slot
    value: int  # the pointer stored there
    offset: int  # where in the owned object the pointer lands (0 = its start)
    obj: int | None = None  # owner object id (kind == "object")
    ref: int | None = None  # root record index (root kinds)
    field_index: int | None = None  # index of the slot among the owner's pointer slots
    owners: list[OwnerNode] = field(default_factory=list)
    cycle: bool = False
    seen: bool = False
    parent: OwnerNode | None = field(default=None, repr=False)


def direct_owners(ix: HeapIndex, obj: int, phantoms: bool = False) -> list[OwnerNode]:
    """The objects and roots with a pointer into ``obj``, each slot once."""
    base = int(ix.addr[obj])
    out: list[OwnerNode] = []
    srcs, ptrs = ix.owners_of(obj)
    for src, p in zip(srcs.tolist(), ptrs.tolist(), strict=False):
        if ix.phantom[src] and not phantoms:
            continue
        slot = int(ix.addr[src]) + int(ix.poff[p])
        value = int(ix.pval[p])
        out.append(OwnerNode("object", slot, value, value - base, obj=src,
                             field_index=p - int(ix.pstart[src])))
    roots = ix.roots
    seen_slots: set[tuple[str, int, int]] = set()
    for r in ix.roots_of(obj).tolist():
        kind = ROOT_KIND_NAMES[int(roots.kind[r])]
        key = (kind, int(roots.ref[r]), int(roots.slot[r]))
        if key in seen_slots:
            continue
        seen_slots.add(key)
        value = int(roots.value[r])
        out.append(OwnerNode(kind, int(roots.slot[r]), value, value - base,
                             ref=int(roots.ref[r])))
    return out


def owner_tree(ix: HeapIndex, obj: int, depth: int, phantoms: bool = False) -> list[OwnerNode]:
    """Owners of ``obj`` up to ``depth`` levels (-1: unlimited)."""
    expanded = {obj}
    top = direct_owners(ix, obj, phantoms)
    stack = [(node, 1) for node in reversed(top)]
    while stack:
        node, level = stack.pop()
        if node.obj is None or (depth >= 0 and level >= depth):
            continue
        if node.obj in expanded:
            anc = node.parent
            node.cycle = node.obj == obj
            while anc is not None and not node.cycle:
                node.cycle = anc.obj == node.obj
                anc = anc.parent
            node.seen = not node.cycle
            continue
        expanded.add(node.obj)
        node.owners = direct_owners(ix, node.obj, phantoms)
        for child in node.owners:
            child.parent = node
        stack.extend((child, level + 1) for child in reversed(node.owners))
    return top
