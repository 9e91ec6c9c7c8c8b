"""Allocation sites, from the memory profiler's records inside the dump: buckets (a stack of
function, file, line) and one allocation sample per sampled live object. With
``runtime.MemProfileRate = 1`` set before the allocations, every object has one.

An object's *site* is the innermost frame of its bucket's stack outside the runtime, written
``main.(*Tracker).Track main.go:24``; the whole stack is there on demand."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from heapspurs.format.records import MemProfBucket, ProfileFrame
from heapspurs.index.heap_index import HeapIndex
from heapspurs.names.table import clean_label

HOW_TO = ("this dump has no allocation samples: set runtime.MemProfileRate = 1 at the start "
          "of main (before the allocations you care about) to get every object's allocation "
          "site")


def is_runtime(function: str) -> bool:
    return function.startswith(("runtime.", "internal/runtime/"))


def frame_label(f: ProfileFrame) -> str:
    return clean_label(f"{f.function} {os.path.basename(f.file)}:{f.line}")


def site_frame(bucket: MemProfBucket) -> ProfileFrame | None:
    """The innermost frame outside the runtime (the allocating code), else the innermost."""
    for f in bucket.frames:
        if not is_runtime(f.function):
            return f
    return bucket.frames[0] if bucket.frames else None


@dataclass
class Sites:
    buckets: list[MemProfBucket]
    sampled: np.ndarray  # int64: the sampled objects' ids, sorted
    sampled_bucket: np.ndarray  # int32: each one's index into buckets
    count: int  # objects in the index
    labels: list[str]  # per bucket: the site's label
    stack_labels: list[str]  # per bucket: the stack from the site outwards
    by_stack: bool = False  # count objects by their whole stack (--stacks), not their site
    _dense: np.ndarray | None = None

    @property
    def bucket_of(self) -> np.ndarray:
        """int32 per object: index into buckets, or -1 (not sampled); for whole-heap answers
        (one object's question asks :meth:`bucket`)."""
        if self._dense is None:
            self._dense = np.full(self.count, -1, np.int32)
            self._dense[self.sampled] = self.sampled_bucket
        return self._dense

    def buckets_of(self, objs: np.ndarray) -> np.ndarray:
        """int32 per object of ``objs``: its bucket index, or -1 (no array per heap object)."""
        objs = np.asarray(objs, np.int64)
        if not len(self.sampled):
            return np.full(len(objs), -1, np.int32)
        i = np.minimum(np.searchsorted(self.sampled, objs), len(self.sampled) - 1)
        return np.where(self.sampled[i] == objs, self.sampled_bucket[i], -1).astype(np.int32)

    def bucket(self, obj: int) -> int:
        """The object's bucket index, or -1."""
        i = int(np.searchsorted(self.sampled, obj))
        ok = 0 <= obj and i < len(self.sampled) and self.sampled[i] == obj
        return int(self.sampled_bucket[i]) if ok else -1

    @property
    def group_labels(self) -> list[str]:
        """Per bucket: what the whole-heap answers count its objects as."""
        return self.stack_labels if self.by_stack else self.labels

    @property
    def any(self) -> bool:
        return len(self.sampled) > 0

    def site(self, obj: int) -> str | None:
        b = self.bucket(obj)
        return self.labels[b] if b >= 0 else None

    def stack(self, obj: int) -> list[ProfileFrame] | None:
        b = self.bucket(obj)
        return list(self.buckets[b].frames) if b >= 0 else None

    def by_address(self) -> dict[int, str]:
        """bucket address -> site label (for the --print lines of allocation samples)."""
        return {b.address: label for b, label in zip(self.buckets, self.labels, strict=True)}


def bucket_stack_label(bucket: MemProfBucket) -> str:
    """The bucket's stack from its site outwards (the allocator's own frames left out):
    ``main.leak main.go:31 < main.main main.go:12``."""
    f = site_frame(bucket)
    frames = bucket.frames[bucket.frames.index(f):] if f is not None else []
    return " < ".join(frame_label(g) for g in frames) or "(no stack)"


def bucket_site_label(bucket: MemProfBucket) -> str:
    f = site_frame(bucket)
    return frame_label(f) if f is not None else "(no stack)"


def allocation_sites(ix: HeapIndex) -> Sites:
    """The sites of the dump's sampled objects (computed once per index)."""
    return ix.memo.get("allocation_sites", lambda: _sites(ix))


def _sites(ix: HeapIndex) -> Sites:
    buckets = list(ix.raw.buckets)
    labels = [bucket_site_label(b) for b in buckets]
    stacks = [bucket_stack_label(b) for b in buckets]
    sampled = np.zeros(0, np.int64)
    sampled_bucket = np.zeros(0, np.int32)
    addr = np.asarray(ix.raw.sample_addr, np.uint64)
    if len(addr) and buckets:
        keys = np.array([b.address for b in buckets], np.uint64)
        order = np.argsort(keys, kind="stable")
        sk = keys[order]
        wanted = np.asarray(ix.raw.sample_bucket, np.uint64)
        pos = np.minimum(np.searchsorted(sk, wanted), len(sk) - 1)
        known = sk[pos] == wanted
        # A sample names the object's start, or (Go 1.22-1.24, malloc headers) its data.
        obj = ix.resolve(addr)
        ok = known & (obj >= 0)
        objs, bks = obj[ok].astype(np.int64), order[pos[ok]].astype(np.int32)
        by_obj = np.argsort(objs, kind="stable")
        objs, bks = objs[by_obj], bks[by_obj]
        last = np.ones(len(objs), bool)  # of two samples of one object, the later counts
        last[:-1] = objs[1:] != objs[:-1]
        sampled, sampled_bucket = objs[last], bks[last]
    return Sites(buckets, sampled, sampled_bucket, ix.count, labels, stacks)
