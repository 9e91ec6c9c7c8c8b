"""The names the analyses and renderers ask for, from whatever the user gave: the ``--program``
binary's symbols (globals, statics, functions) and the ``--oid`` file's object names. Attached to
the index as ``ix.names``; :func:`names_of` gives an index's names (none when nothing was given)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from heapspurs.index.geometry import MALLOC_HEADER
from heapspurs.index.heap_index import HeapIndex
from heapspurs.names.statics import static_names
from heapspurs.names.table import NameTable, offset_label

if TYPE_CHECKING:
    from heapspurs.names.elf_binary import Binary
    from heapspurs.names.typing import Typing


class Names:
    """Names of objects, global memory, pointer values and functions of one dump."""

    def __init__(self, ix: HeapIndex | None = None, binary: Binary | None = None,
                 object_ids: np.ndarray | None = None, object_labels: list[str] | None = None):
        self.ix = ix
        self.binary = binary
        symbols = binary.symbols if binary is not None else NameTable.empty()
        self.symbols = symbols
        segments = ix.raw.segments if ix is not None else []
        self.statics = static_names(symbols, segments) if binary is not None else NameTable.empty()
        self.object_ids = object_ids  # label id per object, -1 unnamed (None: no object names)
        self.object_labels = object_labels or []
        self._heap: NameTable | None = None
        self._print: NameTable | None = None
        self._buckets: dict[int, str] | None = None
        self.typing: Typing | None = None  # set by attach when the binary has DWARF

    # ---- objects ----
    def type_name(self, obj: int) -> str | None:
        """The object's Go type, from the binary's DWARF (None: not typed)."""
        return self.typing.type_name(obj) if self.typing is not None else None

    def field_at(self, obj: int, offset: int) -> str | None:
        """The field of a typed object at a byte offset of its record (``.Buf``)."""
        return self.typing.field_at(obj, offset) if self.typing is not None else None

    def display_name(self, obj: int) -> str | None:
        """What to call the object: its OID name, else its type."""
        return self.object_name(obj) or self.type_name(obj)

    def object_name(self, obj: int) -> str | None:
        if self.object_ids is None or obj < 0:
            return None
        i = int(self.object_ids[obj])
        return self.object_labels[i] if i >= 0 else None

    def heap_table(self) -> NameTable:
        """Named heap objects as ranges (for naming pointer values)."""
        if self._heap is None:
            if self.ix is None or self.object_ids is None:
                self._heap = NameTable.empty()
            else:
                named = np.nonzero(self.object_ids >= 0)[0]
                end = self.ix.addr[named] + self.ix.size[named]
                # An object with a malloc header starts, for Go code, past the header.
                start = self.ix.addr[named] + np.where(self.ix.header[named], MALLOC_HEADER,
                                                       0).astype(np.uint64)
                self._heap = NameTable(start, end, self.object_labels, self.object_ids[named])
        return self._heap

    # ---- global memory and pointer values ----
    def global_name(self, address: int) -> str | None:
        """The global variable holding ``address`` (``main.cache+0x8``), or the static object
        a named global points to (``main.events → (static) +0x8``)."""
        return self.symbols.label(address) or self.statics.label(address)

    def function_name(self, pc: int) -> str | None:
        hit = self.symbols.find(pc)
        return hit[0] if hit is not None else None

    def funcval_name(self, funcval: int) -> str | None:
        """The function a funcval (closure) runs: its first word is the code pointer."""
        if self.binary is None:
            return None
        pc = self.binary.read_pointer(funcval)  # a static funcval, in .rodata
        if pc is None and self.ix is not None:  # a closure in the heap
            obj = self.ix.find(funcval)
            ptr = self.ix.params.ptr_size
            if obj >= 0 and funcval + ptr <= int(self.ix.addr[obj] + self.ix.size[obj]):
                off = funcval - int(self.ix.addr[obj])
                data = self.ix.contents(obj)[off : off + ptr]
                pc = int.from_bytes(data, "big" if self.ix.params.big_endian else "little")
        return self.function_name(pc) if pc is not None else None

    def object_at(self, address: int) -> str | None:
        """The name of the object whose record starts at ``address``."""
        if self.ix is None or self.object_ids is None:
            return None
        obj = self.ix.find(address)
        return self.object_name(obj) if obj >= 0 and int(self.ix.addr[obj]) == address else None

    def value_names(self, values: np.ndarray) -> list[str | None]:
        """What each pointer value points at: a named heap object, a global, a function, or
        None (vectorized: one search per table, not per value)."""
        values = np.asarray(values, np.uint64)
        out: list[str | None] = [None] * len(values)
        for table in (self.heap_table(), self.symbols, self.statics):
            if not len(table):
                continue
            rows = table.rows(values)
            for i in np.nonzero(rows >= 0)[0].tolist():
                if out[i] is None:
                    row = int(rows[i])
                    out[i] = offset_label(table.labels[int(table.ids[row])],
                                          int(values[i]) - int(table.starts[row]))
        return out

    def bucket_site(self, bucket: int) -> str | None:
        """The allocation site of a memory-profile bucket (by its address)."""
        if self.ix is None:
            return None
        if self._buckets is None:
            from heapspurs.names.alloc_sites import allocation_sites

            self._buckets = allocation_sites(self.ix).by_address()
        return self._buckets.get(bucket)

    def print_table(self) -> NameTable:
        """Everything with a name, for naming pointer values in ``--print``."""
        if self._print is None:
            self._print = NameTable.merge(self.symbols, self.statics, self.heap_table())
        return self._print


NO_NAMES = Names()


def names_of(ix: HeapIndex) -> Names:
    names = getattr(ix, "names", None)
    return names if isinstance(names, Names) else NO_NAMES
