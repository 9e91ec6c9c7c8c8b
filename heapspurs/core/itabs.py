"""The itabs of a core, as the heap dump's itab records (``runtime.dumpitabs``).

An itab (``runtime.itab`` before Go 1.22, ``internal/abi.ITab`` since) pairs an interface type
with a concrete type; an interface value's first word points at one (an empty interface's points
at the type itself). ``runtime.dumpitabs`` writes one record per itab the runtime knows: it walks
``runtime.itabTable`` (``iterate_itabs``: ``size`` slots from ``entries``, skipping the nil ones)
and writes each itab's address and its ``Type`` (``_type`` before 1.22). The table holds the
program's precompiled itabs (``runtime.itabsinit`` adds the module's ``itablinks``, or from Go 1.27
the itabs between ``moduledata.types + itaboffset`` and ``+ itabsize``, at start-up) and every
itab built since (``getitab``); so does this walk. It is the same in 1.21 through 1.27.

The table starts as ``runtime.itabTableInit`` (``itabInitSize`` slots) in the data segment and
``itabAdd`` replaces it, when three quarters full, by one twice as large on the heap: ``size`` is
a power of two, ``count`` (the non-nil slots) at most ``size``. Layouts come from the program's
DWARF (:mod:`heapspurs.core.layouts`); a table those bounds do not hold, or an entry that does
not read, is one :class:`CoreFileError` line.
"""

from __future__ import annotations

from heapspurs.core.errors import CoreFileError, UnmappedAddress
from heapspurs.core.layouts import RuntimeTypes
from heapspurs.core.memory import AddressSpace
from heapspurs.format.records import Itab

PTR_SIZE = 8
# The itab struct and its type field, by release: runtime.itab._type before Go 1.22,
# internal/abi.ITab.Type since.
ITAB_STRUCTS = (("internal/abi.ITab", "Type"), ("runtime.itab", "_type"))
TABLE_STRUCT = "runtime.itabTableType"


def _type_field(rt: RuntimeTypes) -> int:
    """Offset of the concrete type's pointer in the program's itab struct."""
    missing: CoreFileError | None = None
    for struct, field in ITAB_STRUCTS:
        try:
            f = rt.field(struct, field)
        except CoreFileError as e:
            missing = missing or e
            continue
        if f.size != PTR_SIZE:
            raise CoreFileError(f"{rt.program}: {struct}.{field} is {f.size} bytes in its "
                                "DWARF: corrupt DWARF")
        return f.offset
    assert missing is not None
    raise missing


def itab_records(space: AddressSpace, rt: RuntimeTypes) -> list[Itab]:
    """Every itab in ``runtime.itabTable``, in table order, as the dump's itab records (itab
    address, concrete type address)."""
    path = space.core.path
    type_off = _type_field(rt)
    size_f, count_f, entries_f = (rt.field(TABLE_STRUCT, f) for f in ("size", "count", "entries"))
    table = space.word(rt.global_var("runtime.itabTable").address)
    try:
        raw = space.read(table, entries_f.offset)
    except UnmappedAddress:
        raise CoreFileError(f"{path}: runtime.itabTable points at {table:#x}, which the core "
                            "does not hold: a corrupt core or another program") from None
    size, count = size_f.of(raw), count_f.of(raw)
    if size & (size - 1) or count > size or size * PTR_SIZE > space.core.size:
        raise CoreFileError(f"{path}: runtime.itabTable at {table:#x} has size {size} and count "
                            f"{count}: a corrupt core or another program")
    try:
        slots = space.read(table + entries_f.offset, size * PTR_SIZE)
    except UnmappedAddress:
        raise CoreFileError(f"{path}: runtime.itabTable's {size} entries at {table:#x} are not "
                            "all in the core: a truncated core") from None
    out: list[Itab] = []
    for i in range(size):  # bounded: size * 8 bytes were read
        entry = int.from_bytes(slots[PTR_SIZE * i:PTR_SIZE * (i + 1)], "little")
        if entry == 0:
            continue
        try:
            out.append(Itab(entry, space.word(entry + type_off)))
        except UnmappedAddress:
            raise CoreFileError(f"{path}: runtime.itabTable's entry {i} points at {entry:#x}, "
                                "which the core does not hold: a corrupt core") from None
    if len(out) != count:
        raise CoreFileError(f"{path}: runtime.itabTable at {table:#x} counts {count} itabs and "
                            f"holds {len(out)}: a corrupt core or another program")
    return out
