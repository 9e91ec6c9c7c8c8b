"""The dominator tree a level at a time, for the explorer's tree and flame graph
(``/api/children?address=0x...``; no address: the tree's top level): each child with its
retained size and how many children it has in turn."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from heapspurs.analysis.dominators import SUPER_ROOT, dominator_tree
from heapspurs.render.objects_view import object_json
from heapspurs.serve.answers import ApiError, address, integer

if TYPE_CHECKING:
    from heapspurs.index.heap_index import HeapIndex
    from heapspurs.serve.answers import Answerer

LIMIT = "50"


def child_counts(ix: HeapIndex) -> np.ndarray:
    """How many objects each object immediately dominates (computed once per index)."""
    def count() -> np.ndarray:
        idom = dominator_tree(ix).idom
        return np.bincount(idom[idom >= 0], minlength=ix.count).astype(np.int32)

    return ix.memo.get("dominator_child_counts", count)


def children_json(answerer: Answerer, query: dict[str, str]) -> dict[str, Any]:
    unknown = set(query) - {"address", "limit"}
    if unknown:
        raise ApiError(400, f"children takes no parameter {', '.join(sorted(unknown))}")
    limit = int(integer(1, 1000)(query.get("limit", LIMIT)))
    ix = answerer.index()
    tree = dominator_tree(ix)
    counts = child_counts(ix)
    if "address" in query:
        obj = ix.find(int(address(query["address"]), 16))
        if obj < 0:
            raise ApiError(404, f"no object at {query['address']} in this dump")
        head: dict[str, Any] | None = object_json(ix, obj)
        retained = int(tree.retained[obj])
        kids = tree.children(obj)
    else:
        head, retained, kids = None, tree.reachable_bytes, tree.children(SUPER_ROOT)
    order = kids[np.argsort(-tree.retained[kids].astype(np.int64), kind="stable")[:limit]]
    return {"object": head, "retained": retained, "dominated": len(kids),
            "children": [{**object_json(ix, int(o)), "retained": int(tree.retained[o]),
                          "children": int(counts[o])} for o in order.tolist()]}
