"""What the whole-heap answers call an object when they count it: its OID name, else its Go
type (``--program``), else its allocation site (``main.leak main.go:31``; with ``--stacks``
its stack from there outwards), else its size class (``size class 48 B``; ``large object
40960 B`` past 32 KiB)."""

from __future__ import annotations

import numpy as np

from heapspurs.index.heap_index import HeapIndex
from heapspurs.index.sizeclasses import CLASS_SIZES
from heapspurs.names.alloc_sites import allocation_sites
from heapspurs.names.naming import names_of

SMALL = CLASS_SIZES[-1]


def size_key(size: int) -> str:
    if size <= SMALL:
        return f"size class {size} B"
    return f"large object {size} B"


def kind_ids(ix: HeapIndex, objs: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """(kind id per object of ``objs``, kind names); vectorized (no sort of all sizes)."""
    sizes = np.asarray(ix.size[objs], np.uint64)
    small = sizes <= SMALL
    present = np.nonzero(np.bincount(sizes[small].astype(np.int64), minlength=SMALL + 1))[0]
    lut = np.zeros(SMALL + 1, np.int32)
    lut[present] = np.arange(len(present))
    ids = np.empty(len(sizes), np.int32)  # (kinds are far fewer than 2**31)
    ids[small] = lut[sizes[small]]
    big_sizes, big_ids = np.unique(sizes[~small], return_inverse=True)
    ids[~small] = len(present) + big_ids
    del sizes, small
    labels = [size_key(int(s)) for s in present.tolist()]
    labels += [size_key(int(s)) for s in big_sizes.tolist()]
    sites = allocation_sites(ix)
    if sites.any:
        bucket = sites.buckets_of(objs)
        # One kind per distinct site label (several buckets share a site).
        uniq, site_id = np.unique(np.array(sites.group_labels, dtype=object),
                                  return_inverse=True)
        site_id = np.asarray(site_id, np.int64)
        at = bucket >= 0
        ids[at] = len(labels) + site_id[bucket[at]]
        labels += [str(u) for u in uniq.tolist()]
    names = names_of(ix)
    typing = names.typing
    if typing is not None:
        tids, tlabels = typing.kind_labels(objs)
        at = tids >= 0
        ids[at] = len(labels) + tids[at]
        del tids, at
        labels += tlabels
    if names.object_ids is not None:
        named = names.object_ids[objs]
        at = named >= 0
        ids[at] = len(labels) + named[at]
        labels += list(names.object_labels)
    return ids, labels
