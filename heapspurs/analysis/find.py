"""``--find REGEX``: the objects whose name matches a regular expression. Names live on the
index (one label id per object), so a search tests each distinct name once, not each object."""

from __future__ import annotations

import numpy as np
import regex

from heapspurs.index.heap_index import HeapIndex
from heapspurs.names.naming import names_of

TIMEOUT = 5.0  # seconds for all the matching: a pathological pattern must not hang


class FindError(ValueError):
    """The pattern is not a valid regular expression, or cannot be searched with."""


def compile_pattern(pattern: str) -> regex.Pattern:
    try:
        return regex.compile(pattern)
    except regex.error as e:
        raise FindError(f"--find: {pattern!r} is not a valid regular expression: {e}") from None


def find_objects(ix: HeapIndex, pattern: str, phantoms: bool = False) -> np.ndarray:
    """Ids (in address order) of the objects whose name matches ``pattern`` anywhere."""
    rx = compile_pattern(pattern)
    names = names_of(ix)
    if names.object_ids is None:
        return np.zeros(0, np.int64)
    try:
        hits = [i for i, label in enumerate(names.object_labels)
                if rx.search(label, timeout=TIMEOUT)]
    except TimeoutError:
        raise FindError(f"--find: matching {pattern!r} took over {TIMEOUT:g} s; "
                        "simplify the pattern") from None
    if not hits:
        return np.zeros(0, np.int64)
    found = np.isin(names.object_ids, np.array(hits, np.int32))
    if not phantoms:
        found &= ~ix.phantom
    return np.nonzero(found)[0]
