"""The data and BSS roots of a core: the main module's global variables' pointer words and the
values they hold, as the garbage collector's ``markrootBlock`` and the heap dump's
``dumpdata``/``dumpbss`` see them.

``runtime.firstmoduledata`` (found by the program's DWARF, checked against its symbol table) has
the segments' bounds (``data``/``edata``, ``bss``/``ebss``) and their pointer masks
(``gcdatamask``/``gcbssmask``: a ``runtime.bitvector`` of ``n`` bits, bit ``i`` set when word
``i`` of the segment holds a pointer), which the runtime builds at start from the linker's GC
programs. The dump lists exactly the bits ``i < n`` (``runtime.dumpbv``); so does this module.
Only the main module is read: the dump writes no other (``moduledata.next`` is nil but for
plugins).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heapspurs.core.errors import CoreFileError
from heapspurs.core.layouts import RuntimeTypes
from heapspurs.core.memory import AddressSpace

PTR_SIZE = 8
MODULEDATA = "runtime.firstmoduledata"
MODULEDATA_FIELDS = ("data", "edata", "bss", "ebss", "gcdatamask.n", "gcdatamask.bytedata",
                     "gcbssmask.n", "gcbssmask.bytedata")


@dataclass
class GlobalSegment:
    """The data or BSS segment: its bounds and pointer words (offset from ``address``, value
    in the core), the fields of the heap dump's data/BSS records."""

    bss: bool
    address: int
    size: int
    ptr_off: np.ndarray  # uint64, ascending
    ptr_val: np.ndarray  # uint64
    mask_bits: int  # the bitvector's n

    @property
    def end(self) -> int:
        return self.address + self.size

    @property
    def name(self) -> str:
        return "bss" if self.bss else "data"


def global_roots(space: AddressSpace, rt: RuntimeTypes) -> list[GlobalSegment]:
    """The data and BSS segments of the main module in ``space`` (in that order)."""
    where = space.core.path
    md = rt.global_var(MODULEDATA)
    f = rt.fields("runtime.moduledata", MODULEDATA_FIELDS)
    raw = space.read(md.address, rt.struct_size("runtime.moduledata"))
    markers = rt.binary.markers
    out = []
    for seg, bss in (("data", False), ("bss", True)):
        start = f[seg].of(raw)
        end = f["e" + seg].of(raw)
        n = f[f"gc{seg}mask.n"].signed(raw)
        bytedata = f[f"gc{seg}mask.bytedata"].of(raw)
        expected = (markers.get(f"runtime.{seg}"), markers.get(f"runtime.e{seg}"))
        if None not in expected and (start, end) != expected:
            raise CoreFileError(
                f"{where}: runtime.firstmoduledata puts {seg} at {start:#x}..{end:#x}, the "
                f"program's symbols at {expected[0]:#x}..{expected[1]:#x}: a corrupt core or "
                "another program")
        if end < start or end - start > space.core.size:
            raise CoreFileError(f"{where}: runtime.firstmoduledata.{seg} is {start:#x}..{end:#x}:"
                                " a corrupt core")
        size = end - start
        words = (size // PTR_SIZE + 7) // 8 * 8  # bits the runtime allocated for the mask
        if n < 0 or n > words:
            raise CoreFileError(f"{where}: the {seg} segment's pointer mask has {n} bits for "
                                f"{size // PTR_SIZE} words: a corrupt core")
        if n and not bytedata:
            raise CoreFileError(f"{where}: the {seg} segment's pointer mask of {n} bits has no "
                                "bytes (nil): a corrupt core")
        mask = np.frombuffer(space.read(bytedata, (n + 7) // 8), np.uint8) if n else \
            np.zeros(0, np.uint8)
        bits = np.unpackbits(mask, bitorder="little")[:n]
        offs = np.nonzero(bits)[0].astype(np.uint64) * np.uint64(PTR_SIZE)
        if len(offs) and int(offs[-1]) + PTR_SIZE > size:
            raise CoreFileError(f"{where}: the {seg} segment's pointer mask marks word "
                                f"{int(offs[-1]) // PTR_SIZE}, past its {size} bytes: a "
                                "corrupt core")
        contents = np.frombuffer(space.read(start, size - size % PTR_SIZE), "<u8") \
            if size >= PTR_SIZE else np.zeros(0, "<u8")
        vals = contents[(offs // np.uint64(PTR_SIZE)).astype(np.int64)].astype(np.uint64)
        out.append(GlobalSegment(bss, start, size, offs, vals, n))
    return out
