"""Give an index the names the user asked for: read ``--program`` and ``--oid``, check that the
binary belongs to the dump, warn (or, with ``--strict``, fail) when it does not."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from heapspurs.index.heap_index import HeapIndex
from heapspurs.names.errors import BinaryError
from heapspurs.names.naming import Names
from heapspurs.names.oids import object_name_ids, read_oid_file

if TYPE_CHECKING:
    from heapspurs.names.elf_binary import Binary


def load_binary(path: str, ix: HeapIndex, strict: bool, warn: Callable[[str], None]) -> Binary:
    from heapspurs.names.binary_check import check_binary  # pyelftools: only when asked for
    from heapspurs.names.elf_binary import read_binary

    binary = read_binary(path)
    problems = check_binary(binary, ix.params, ix.raw.segments)
    if problems:
        text = f"{path} does not look like the program that wrote this dump: " + "; ".join(
            problems)
        if strict:
            raise BinaryError(text)
        warn(text + " (names may be wrong; --strict makes this an error)")
    if binary.stripped:
        warn(f"{path} has no symbol table (stripped, e.g. built with -ldflags='-s -w'): "
             "globals and functions stay unnamed")
    return binary


def attach_names(ix: HeapIndex, program: str | None, oid_file: str | None, strict: bool,
                 warn: Callable[[str], None]) -> Names:
    """Build the index's names from the given files and attach them as ``ix.names``."""
    binary = load_binary(program, ix, strict, warn) if program else None
    ids = labels = None
    if oid_file:
        oids = read_oid_file(oid_file)
        if not oids:
            warn(f"{oid_file} lists no object ids")
        ids, labels = object_name_ids(ix, oids)
    names = Names(ix, binary, ids, labels)
    if binary is not None and not binary.stripped:
        from heapspurs.names.dwarf_types import binary_key, load_types
        from heapspurs.names.typing import cached_typing

        frame_pcs = ix.raw.frame_pc.astype(np.uint64) - np.uint64(1)  # return addresses
        types = load_types(program, frame_pcs, binary.markers.get("runtime.types"), warn)
        if types.types:
            names.typing = cached_typing(ix, types, binary_key(program))
        else:
            warn(f"{program} has no DWARF debug information (built with -ldflags=-w?): "
                 "objects stay untyped")
    ix.names = names
    return names
