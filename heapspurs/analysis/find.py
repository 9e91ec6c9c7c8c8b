"""``--find REGEX``: the objects whose name or allocation site matches a regular expression.
Names live on the index (one label id per object), so a search tests each distinct name once,
not each object."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from heapspurs.index.heap_index import HeapIndex
from heapspurs.names.alloc_sites import allocation_sites
from heapspurs.names.naming import names_of

if TYPE_CHECKING:
    import regex

TIMEOUT = 5.0  # seconds for all the matching: a pathological pattern must not hang


class FindError(ValueError):
    """The pattern is not a valid regular expression, or cannot be searched with."""


def compile_pattern(pattern: str) -> regex.Pattern:
    import regex  # only when searching: its import is ~11 ms of every answer's start-up

    try:
        return regex.compile(pattern)
    except regex.error as e:
        raise FindError(f"--find: {pattern!r} is not a valid regular expression: {e}") from None


def _matching(rx: regex.Pattern, labels: list[str], pattern: str) -> list[int]:
    try:
        return [i for i, label in enumerate(labels) if rx.search(label, timeout=TIMEOUT)]
    except TimeoutError:
        raise FindError(f"--find: matching {pattern!r} took over {TIMEOUT:g} s; "
                        "simplify the pattern") from None


def find_objects(ix: HeapIndex, pattern: str, phantoms: bool = False) -> np.ndarray:
    """Ids (in address order) of the objects whose name (from ``--oid``) or allocation site
    (``main.leak main.go:31``) matches ``pattern`` anywhere."""
    rx = compile_pattern(pattern)
    names = names_of(ix)
    found = np.zeros(ix.count, bool)
    if names.object_ids is not None:
        hits = _matching(rx, names.object_labels, pattern)
        if hits:
            found |= np.isin(names.object_ids, np.array(hits, np.int32))
    if names.typing is not None:
        hits = _matching(rx, names.typing.names, pattern)
        if hits:
            found |= np.isin(names.typing.object_type, np.array(hits, np.int32))
    sites = allocation_sites(ix)
    if sites.any:
        hits = _matching(rx, sites.labels, pattern)
        if hits:
            found |= np.isin(sites.bucket_of, np.array(hits, np.int32))
    if not phantoms:
        found &= ~ix.phantom
    return np.nonzero(found)[0]
