"""The heap as pprof samples: reachable objects grouped by allocation stack (sampled objects)
or by kind (the rest, under a synthetic frame), with count, bytes and retained bytes (objects
dominated by another object of the same group are not counted twice)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heapspurs.analysis.dominators import UNREACHED, dominator_tree
from heapspurs.analysis.kinds import kind_ids
from heapspurs.index.heap_index import HeapIndex
from heapspurs.names.alloc_sites import allocation_sites


@dataclass
class ProfileSample:
    stack: list[tuple[str, str, int]]  # (function, file, line), innermost first
    count: int
    bytes: int
    retained: int


def profile_samples(ix: HeapIndex) -> list[ProfileSample]:
    tree = dominator_tree(ix)
    objs = np.nonzero((tree.idom != UNREACHED) & ~ix.phantom)[0]
    sites = allocation_sites(ix)
    nb = len(sites.buckets)
    kid, klabels = kind_ids(ix, objs)
    bucket = sites.buckets_of(objs).astype(np.int64)
    group = np.where(bucket >= 0, bucket, nb + kid)
    ngroups = nb + len(klabels)
    group_of = np.full(ix.count, -1, np.int64)
    group_of[objs] = group
    idom = tree.idom[objs].astype(np.int64)
    nested = (idom >= 0) & (group_of[np.maximum(idom, 0)] == group)
    count = np.bincount(group, minlength=ngroups)
    nbytes = np.bincount(group, weights=ix.size[objs].astype(np.float64), minlength=ngroups)
    retained = np.bincount(group[~nested], weights=tree.retained[objs][~nested].astype(
        np.float64), minlength=ngroups)
    out = []
    for g in np.nonzero(count)[0].tolist():
        if g < nb:
            stack = [(f.function, f.file, f.line) for f in sites.buckets[g].frames]
        else:
            stack = [(f"[{klabels[g - nb]}]", "", 0)]
        out.append(ProfileSample(stack or [("[no stack]", "", 0)], int(count[g]),
                                 int(nbytes[g]), int(retained[g])))
    return out
