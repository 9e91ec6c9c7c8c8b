"""Finalizers, defers and panics of a core, as the heap dump's records of them.

- Registered finalizers (:class:`Finalizer`, ``queued=False``): ``runtime.dumproots`` walks
  ``mheap_.allspans`` and, in each span in use, its ``specials`` list (``runtime.special``:
  ``next``, ``offset`` from the span's base, ``kind``); each ``runtime.specialfinalizer``
  (``kind == _KindSpecialFinalizer``) gives the object (span base + offset), its closure
  (``fn``, a ``*funcval`` whose first word is the function's pc), ``fint`` and ``ot``.
  ``_KindSpecialFinalizer`` is 1 before Go 1.25 and 2 since (``_KindSpecialTinyBlock`` came
  first): it is read from the program's DWARF, where it is a ``DW_TAG_constant`` of the runtime's
  compilation unit.
- Queued finalizers (``queued=True``): ``runtime.iterate_finq`` walks ``runtime.allfin``, every
  finalizer block (``finblock``, ``finBlock`` since Go 1.26) by ``alllink``, and the first
  ``cnt`` of its ``fin`` array (``runtime.finalizer``: ``fn``, ``arg``, ``nret``, ``fint``,
  ``ot``).
- Defers (:class:`Defer`) and panics (:class:`Panic`): ``runtime.dumpgoroutine`` follows each
  goroutine's ``g._defer`` chain (``runtime._defer``: ``sp``, ``pc``, ``fn``, ``link``; its
  other fields changed across releases, these did not move by name) and ``g._panic`` chain
  (``runtime._panic``: ``arg``, an ``any`` whose type and data words the dump writes, and
  ``link``; the dump's ``defer`` field is always 0).
- The finalizer goroutine (``runtime.fing``) while it runs a finalizer (``fingStatus`` has
  ``fingRunningFinalizer``): ``runtime.isSystemGoroutine`` counts it as the program's then, so
  the dump's goroutine record says it is not the runtime's.

Every layout is the program's DWARF (:mod:`heapspurs.core.layouts`). Every list is walked at
most as many steps as the core could hold records, and a loop is an error: each corrupt input
is one :class:`CoreFileError` line naming the core.
"""

from __future__ import annotations

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from heapspurs.core.errors import CoreFileError, UnmappedAddress
from heapspurs.core.goroutines import CoreGoroutine
from heapspurs.core.heap import MSPAN_IN_USE
from heapspurs.core.layouts import RuntimeTypes
from heapspurs.core.memory import AddressSpace
from heapspurs.format.records import Defer, Finalizer, Panic

PTR_SIZE = 8
KIND_FINALIZER = "runtime._KindSpecialFinalizer"
RUNTIME_UNIT = b"runtime"
MAX_SPANS = 1 << 26  # allspans entries: far more than any heap (64 TiB of 1-page spans)


def runtime_constant(program: str, name: str) -> int:
    """The integer constant ``name`` of the runtime package, from the program's DWARF (a
    ``DW_TAG_constant`` child of the ``runtime`` compilation unit)."""
    try:
        with open(program, "rb") as f:
            dwarf = ELFFile(f).get_dwarf_info()
            for cu in dwarf.iter_CUs():
                top = cu.get_top_DIE()
                unit = top.attributes.get("DW_AT_name")
                if unit is None or unit.value != RUNTIME_UNIT:
                    continue
                for die in top.iter_children():
                    at = die.attributes.get("DW_AT_name")
                    if (die.tag == "DW_TAG_constant" and at is not None
                            and at.value == name.encode()
                            and "DW_AT_const_value" in die.attributes):
                        return int(die.attributes["DW_AT_const_value"].value)
    except (OSError, ELFError, ValueError, KeyError) as e:
        raise CoreFileError(f"{program}: its DWARF cannot be read for {name}: {e}") from None
    raise CoreFileError(f"{program}: its DWARF has no constant {name}: not a Go program "
                        "heapspurs reads, or built without DWARF (-ldflags=-w)")


def _read(space: AddressSpace, address: int, n: int, what: str) -> bytes:
    try:
        return space.read(address, n)
    except UnmappedAddress:
        raise CoreFileError(f"{space.core.path}: {what} at {address:#x} is not in the core: a "
                            "corrupt core or another program") from None


def _fn_pc(space: AddressSpace, funcval: int, what: str) -> int:
    """The function's pc: the first word of its ``funcval`` (0 for a nil closure)."""
    return int.from_bytes(_read(space, funcval, PTR_SIZE, what), "little") if funcval else 0


def _chain(space: AddressSpace, first: int, size: int, link: int, what: str
           ) -> list[tuple[int, bytes]]:
    """The (address, bytes) of each record of a linked list (each ``size`` bytes, the next
    one's address at offset ``link``), in list order; a loop or a list longer than the core
    could hold is an error."""
    out: list[tuple[int, bytes]] = []
    seen: set[int] = set()
    limit = space.core.size // max(size, 1)
    at = first
    while at:
        if at in seen or len(out) > limit:
            raise CoreFileError(f"{space.core.path}: {what} loops back to {at:#x} after "
                                f"{len(out)} records: a corrupt core")
        seen.add(at)
        raw = _read(space, at, size, what)
        out.append((at, raw))
        at = int.from_bytes(raw[link:link + PTR_SIZE], "little")
    return out


def registered_finalizers(space: AddressSpace, rt: RuntimeTypes) -> list[Finalizer]:
    """The finalizers of the spans' specials lists, in ``allspans`` and list order."""
    where = space.core.path
    kind_finalizer = runtime_constant(rt.program, KIND_FINALIZER)
    sp = rt.fields("runtime.mspan", ("startAddr", "state", "specials"))
    mspan_size = rt.struct_size("runtime.mspan")
    sf = rt.fields("runtime.special", ("next", "offset", "kind"))
    special_size = rt.struct_size("runtime.special")
    ff = rt.fields("runtime.specialfinalizer", ("special", "fn", "fint", "ot"))
    fin_size = rt.struct_size("runtime.specialfinalizer")
    allspans = rt.field("runtime.mheap", "allspans")
    mheap = rt.global_var("runtime.mheap_").address
    hdr = _read(space, mheap + allspans.offset, 3 * PTR_SIZE, "runtime.mheap_.allspans")
    array, length, cap = (int.from_bytes(hdr[k:k + 8], "little") for k in (0, 8, 16))
    if length > cap or length > MAX_SPANS or length * PTR_SIZE > space.core.size:
        raise CoreFileError(f"{where}: runtime.mheap_.allspans has length {length} and "
                            f"capacity {cap}: a corrupt core")
    spans = _read(space, array, length * PTR_SIZE, "the allspans array") if length else b""
    out: list[Finalizer] = []
    for i in range(length):
        span = int.from_bytes(spans[8 * i:8 * i + 8], "little")
        raw = _read(space, span, mspan_size, "a span")
        if raw[sp["state"].offset] != MSPAN_IN_USE or not sp["specials"].of(raw):
            continue
        base, first = sp["startAddr"].of(raw), sp["specials"].of(raw)
        specials = _chain(space, first, special_size, sf["next"].offset,
                          f"the specials of the span at {span:#x}")
        for at, s in specials:
            if sf["kind"].of(s) != kind_finalizer:
                continue
            f = _read(space, at, fin_size, "a finalizer special")
            fn = ff["fn"].of(f)
            out.append(Finalizer(object=base + sf["offset"].of(s), funcval=fn,
                                 fn_pc=_fn_pc(space, fn, f"the finalizer closure at {at:#x}"),
                                 fint=ff["fint"].of(f), ot=ff["ot"].of(f), queued=False))
    return out


def queued_finalizers(space: AddressSpace, rt: RuntimeTypes) -> list[Finalizer]:
    """The finalizers queued to run (``runtime.allfin``'s blocks), in ``iterate_finq`` order."""
    where = space.core.path
    allfin = rt.global_var("runtime.allfin")
    ptr = rt.types.types[allfin.type]
    block = rt.types.resolve(ptr.target) if ptr.tag == "pointer" else -1
    name = rt.types.types[block].name if block >= 0 else None
    if not name:
        raise CoreFileError(f"{rt.program}: runtime.allfin is not a pointer to a struct in its "
                            "DWARF: corrupt DWARF")
    bf = rt.fields(name, ("alllink", "cnt", "fin"))
    block_size = rt.struct_size(name)
    ef = rt.fields("runtime.finalizer", ("fn", "arg", "fint", "ot"))
    fin_size = rt.struct_size("runtime.finalizer")
    capacity = bf["fin"].size // fin_size
    first = space.word(allfin.address)
    blocks = _chain(space, first, block_size, bf["alllink"].offset, "runtime.allfin")
    out: list[Finalizer] = []
    for at, b in blocks:
        cnt = bf["cnt"].of(b)
        if cnt > capacity:
            raise CoreFileError(f"{where}: the finalizer block at {at:#x} holds {cnt} "
                                f"finalizers, more than its {capacity}: a corrupt core")
        for i in range(cnt):
            e = b[bf["fin"].offset + i * fin_size:bf["fin"].offset + (i + 1) * fin_size]
            fn = ef["fn"].of(e)
            out.append(Finalizer(object=ef["arg"].of(e), funcval=fn,
                                 fn_pc=_fn_pc(space, fn, f"a queued finalizer's closure "
                                              f"(block {at:#x})"),
                                 fint=ef["fint"].of(e), ot=ef["ot"].of(e), queued=True))
    return out


def defers_and_panics(space: AddressSpace, rt: RuntimeTypes, gs: list[CoreGoroutine]
                      ) -> tuple[list[Defer], list[Panic]]:
    """Each goroutine's defer and panic records (``runtime.dumpgoroutine``), goroutine by
    goroutine in ``gs`` order, each chain from its head."""
    df = rt.fields("runtime._defer", ("sp", "pc", "fn", "link"))
    defer_size = rt.struct_size("runtime._defer")
    pf = rt.fields("runtime._panic", ("arg", "link"))
    panic_size = rt.struct_size("runtime._panic")
    if pf["arg"].size != 2 * PTR_SIZE:
        raise CoreFileError(f"{rt.program}: runtime._panic.arg is {pf['arg'].size} bytes in its "
                            "DWARF, not an interface: corrupt DWARF")
    arg = pf["arg"].offset
    defers: list[Defer] = []
    panics: list[Panic] = []
    for g in gs:
        chain = _chain(space, g.defer, defer_size, df["link"].offset,
                       f"the defers of goroutine {g.goid}")
        for at, d in chain:
            fn = df["fn"].of(d)
            defers.append(Defer(address=at, goroutine=g.address, sp=df["sp"].of(d),
                                pc=df["pc"].of(d), funcval=fn,
                                fn_pc=_fn_pc(space, fn, f"the closure of the defer at {at:#x}"),
                                link=df["link"].of(d)))
        chain = _chain(space, g.panic, panic_size, pf["link"].offset,
                       f"the panics of goroutine {g.goid}")
        for at, p in chain:
            panics.append(Panic(address=at, goroutine=g.address,
                                arg_type=int.from_bytes(p[arg:arg + 8], "little"),
                                arg_data=int.from_bytes(p[arg + 8:arg + 16], "little"),
                                defer=0, link=pf["link"].of(p)))
    return defers, panics


def running_finalizer_goroutine(space: AddressSpace, rt: RuntimeTypes) -> int:
    """The address of the finalizer goroutine (``runtime.fing``) while it runs a finalizer
    (``fingStatus & fingRunningFinalizer``), else 0: ``runtime.isSystemGoroutine`` (as the dump
    calls it) counts it as the program's then, the runtime's otherwise."""
    status = rt.global_var("runtime.fingStatus")
    if status.size < 4:
        raise CoreFileError(f"{rt.program}: runtime.fingStatus is {status.size} bytes in its "
                            "DWARF: corrupt DWARF")
    running = runtime_constant(rt.program, "runtime.fingRunningFinalizer")
    value = int.from_bytes(_read(space, status.address, 4, "runtime.fingStatus"), "little")
    return space.word(rt.global_var("runtime.fing").address) if value & running else 0
