"""Go types from the ``--program`` binary's DWARF: every type's name, kind, size, struct fields,
element type; every global variable's address and type; the runtime type descriptor address of
each type (``DW_AT_go_runtime_type``), which malloc headers, interfaces and finalizers refer to;
and the stack locals live in the dump's frames.

Two readers fill these: the native DIE walker (:mod:`heapspurs.names.dwarf_native`, a fraction of
a second even for a 37 MB binary) and the pyelftools reference it is checked against
(:mod:`heapspurs.names.dwarf_reference`), used where the walker is not built or meets DWARF it
does not decode.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from heapspurs.index.cache import file_key
from heapspurs.names.errors import BinaryError

# reflect.Kind values carried by attribute 0x2900.
KIND_ARRAY, KIND_CHAN, KIND_FUNC, KIND_INTERFACE, KIND_MAP = 17, 18, 19, 20, 21
KIND_PTR, KIND_SLICE, KIND_STRING, KIND_STRUCT, KIND_UNSAFE_POINTER = 22, 23, 24, 25, 26
AT_KIND, AT_KEY, AT_ELEM, AT_RUNTIME_TYPE = 0x2900, 0x2901, 0x2902, 0x2904
AT_CLOSURE_OFFSET = 0x2907  # a captured variable's offset in its closure (Go 1.23+)
FORMAT = 3  # part of binary_key: bump to redo what is cached per binary


@dataclass
class GoType:
    name: str
    tag: str  # DWARF shape: struct, pointer, array, base, typedef, func, other
    kind: int  # reflect kind (0 when DWARF does not say)
    size: int
    target: int = -1  # pointer/typedef target, array/slice element (type index)
    count: int = 0  # array length
    fields: list[tuple[str, int, int]] = field(default_factory=list)  # (name, offset, type)


# A local variable's place in memory over a pc range: pieces (variable offset, size, offset
# from the frame's canonical frame address or None when the piece is in a register).
Piece = tuple[int, int, "int | None"]


@dataclass
class GoTypes:
    types: list[GoType]
    globals: list[tuple[str, int, int]]  # (name, address, type index), sorted by address
    runtime: dict[int, int]  # runtime type descriptor address -> type index
    # Stack locals and parameters: (type index, [(pc begin, pc end, pieces)]).
    locals: list[tuple[int, list[tuple[int, int, list[Piece]]]]] = field(default_factory=list)
    # Closure and defer/go wrapper functions' entry pc -> their ``closure NAME`` type
    # (:mod:`heapspurs.names.closures`).
    closures: dict[int, int] = field(default_factory=dict)

    def resolve(self, t: int) -> int:
        """Follow typedefs to the type that has the layout."""
        seen = 0
        while t >= 0 and self.types[t].tag == "typedef" and seen < 64:
            t = self.types[t].target
            seen += 1
        return t


def binary_key(path: str) -> str:
    """Identity of a binary file: path, size, mtime, first MiB."""
    return file_key(path, FORMAT)


def load_types(path: str, pcs: np.ndarray | None = None, types_base: int | None = None,
               warn: Callable[[str], None] | None = None) -> GoTypes:
    """The Go types of the ELF file at ``path``, with the stack locals live at one of ``pcs``
    (the dump's frames' pcs - 1; all locals when None); ``types_base`` is the address of
    ``runtime.types`` when the caller knows it; ``warn`` hears when the slow reader is used.
    Read afresh each time: the native walker takes a fraction of a second, less than reading a
    cache of its answer would. Raises BinaryError naming the file and what is wrong."""
    from elftools.common.exceptions import DWARFError, ELFError

    from heapspurs.names import dwarf_native, dwarf_reference

    def say(text: str) -> None:
        (warn or (lambda t: print(f"heapspurs: warning: {t}", file=sys.stderr)))(text)

    try:
        if dwarf_native.available():
            try:
                return dwarf_native.extract(path, pcs, types_base)
            except dwarf_native.Unsupported as e:
                say(f"{path}: {e}; reading its DWARF the slow way")
        else:
            say("the native DWARF reader is not built (no C compiler at install?): reading "
                "the binary's DWARF the slow way")
        return dwarf_reference.extract(path)
    except BinaryError:  # already names the file (the reference reader's own errors)
        raise
    except ValueError as e:  # the native walker's corrupt-DWARF errors name the offset
        raise BinaryError(f"{path}: cannot read its DWARF: {e}") from None
    except (ELFError, DWARFError, OSError, KeyError, IndexError, AttributeError, TypeError,
            AssertionError) as e:
        raise BinaryError(f"{path}: cannot read its DWARF ({type(e).__name__}: {e})") from None
