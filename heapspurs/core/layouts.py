"""The runtime's structs and globals in one program, as its DWARF and symbol table say them:
where ``runtime.firstmoduledata``, ``runtime.allgs`` and the like are, and the offset and size of
each field the core stage reads (``g.sched.sp``, ``moduledata.gcdatamask.n``), dotted paths
through nested structs included. Nothing here is hard-coded per Go release: ``runtime.gobuf``
lost its ``ret`` field in Go 1.25 and ``runtime.g`` moved ``atomicstatus`` between releases;
the program's DWARF says where each field is.

Every lookup that fails is one :class:`CoreFileError` line naming the program.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heapspurs.core.errors import CoreFileError
from heapspurs.names.dwarf_types import GoTypes, load_types
from heapspurs.names.elf_binary import Binary, read_binary

MAX_PATH_DEPTH = 8  # dotted field paths are short: "sched.sp", "gcdatamask.bytedata"


@dataclass(frozen=True)
class Field:
    offset: int
    size: int

    def of(self, raw: bytes) -> int:
        """This field's unsigned little-endian value in ``raw``, a struct's bytes."""
        return int.from_bytes(raw[self.offset:self.offset + self.size], "little")

    def signed(self, raw: bytes) -> int:
        return int.from_bytes(raw[self.offset:self.offset + self.size], "little", signed=True)


@dataclass(frozen=True)
class Global:
    name: str
    address: int
    size: int
    type: int  # index in GoTypes.types (resolved through typedefs)


class RuntimeTypes:
    """The program's runtime structs and globals; one :class:`CoreFileError` per missing one."""

    def __init__(self, program: str, binary: Binary | None = None,
                 types: GoTypes | None = None):
        self.program = program
        self.binary = binary or read_binary(program)
        if self.binary.go_version is None:
            raise CoreFileError(f"{program}: not a Go program (no Go build info)")
        if self.binary.stripped:
            raise CoreFileError(f"{program}: a stripped Go program (no symbol table): heapspurs "
                                "needs its symbols")
        self.types = types or load_types(program, pcs=np.zeros(0, np.uint64))
        self._structs: dict[str, int] = {}
        for i, t in enumerate(self.types.types):
            if t.name and t.name not in self._structs:
                j = self.types.resolve(i)
                if j >= 0 and self.types.types[j].tag == "struct":
                    self._structs[t.name] = j
        self._globals = {name: (address, t) for name, address, t in self.types.globals}

    @property
    def go_version(self) -> str | None:
        return self.binary.go_version

    def _missing(self, what: str) -> CoreFileError:
        return CoreFileError(f"{self.program}: its DWARF has no {what}: not a Go program "
                             "heapspurs reads, or built without DWARF (-ldflags=-w)")

    def struct_size(self, name: str) -> int:
        if name not in self._structs:
            raise self._missing(f"struct {name}")
        return self.types.types[self._structs[name]].size

    def field(self, struct: str, path: str) -> Field:
        """Offset and size of ``path`` (``"sched.sp"``) in the struct ``struct``."""
        if struct not in self._structs:
            raise self._missing(f"struct {struct}")
        t = self._structs[struct]
        offset, size = 0, 0
        parts = path.split(".")
        if len(parts) > MAX_PATH_DEPTH:
            raise ValueError(f"field path {path!r} is too deep")
        for k, part in enumerate(parts):
            ty = self.types.types[t]
            hit = [(o, ft) for name, o, ft in ty.fields if name == part]
            if not hit:
                raise self._missing(f"field {'.'.join(parts[:k + 1])} in {struct}")
            o, ft = hit[0]
            offset += o
            t = self.types.resolve(ft)
            size = self.types.types[t].size if t >= 0 else 0
        if size <= 0 or offset + size > self.struct_size(struct):
            raise CoreFileError(f"{self.program}: {struct}.{path} is {size} bytes at offset "
                                f"{offset} of a {self.struct_size(struct)}-byte struct in its "
                                "DWARF: corrupt DWARF")
        return Field(offset, size)

    def fields(self, struct: str, paths: tuple[str, ...]) -> dict[str, Field]:
        return {p: self.field(struct, p) for p in paths}

    def global_var(self, name: str) -> Global:
        """The global variable ``name``: its address (DWARF, checked against the symbol table
        when the symbol is there) and its type."""
        if name not in self._globals:
            raise self._missing(f"global variable {name}")
        address, t = self._globals[name]
        r = self.types.resolve(t)
        size = self.types.types[r].size if r >= 0 else 0
        symbol = self.binary.symbols.label(address)
        if symbol is not None and symbol.split("+", 1)[0] != name:
            raise CoreFileError(f"{self.program}: its DWARF puts {name} at {address:#x}, where "
                                f"its symbol table has {symbol}: corrupt DWARF")
        return Global(name, address, size, r)

    def array_count(self, g: Global) -> int:
        """The length of a global array (``[N]T``)."""
        t = self.types.types[g.type]
        if t.tag != "array":
            raise CoreFileError(f"{self.program}: {g.name} is not an array in its DWARF")
        return t.count
