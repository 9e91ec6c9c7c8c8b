"""What the Go runtime's heap layout tells us about dumped objects: phantoms and malloc headers.

Phantoms: ``runtime.dumpobjs`` walks ``npages*8192/elemsize`` slots of every span instead of
``nelems``, so in one-page spans of objects up to 512 bytes it also dumps the slots that overlap
the span's reserved tail (the heap bitmap of spans with pointers, Go 1.22+; the inline mark bits
of the Green Tea GC, Go 1.26+). ``nelems = (8192 - reserve) // elemsize`` (runtime/mheap.go
initSpan), so a slot is a phantom when it ends past ``8192 - reserve``.

Malloc headers (Go 1.22+): objects in small spans larger than 512 bytes whose type has pointers
start with an 8-byte word holding their type descriptor's address; the program's pointer is the
slot start + 8 and the header is never a pointer slot.
"""

from __future__ import annotations

import re

import numpy as np

from heapspurs.scan.native_scan import _cscan

PAGE = 8192
MAX_HEAP_BITS_IN_SPAN = 512  # gc.MinSizeForMallocHeader
MAX_SMALL_SIZE = 32768
MALLOC_HEADER = 8


def go_release(version: str) -> tuple[int, int]:
    """(major, minor) of runtime.Version(), e.g. 'go1.27.3 X:nogreenteagc'; newest if unknown."""
    m = re.match(r"go(\d+)\.(\d+)", version)
    return (int(m.group(1)), int(m.group(2))) if m else (1, 99)


def unknown_release_note(version: str) -> str | None:
    """What is assumed of a Go version string that is not ``goX.Y...`` (a devel toolchain,
    a damaged params record), for a warning; None when it is a release."""
    if re.match(r"go(\d+)\.(\d+)", version):
        return None
    heap_bits, green_tea = layout_features(version)
    rules = ["malloc headers and heap bits at the end of small spans (Go 1.22+)" if heap_bits
             else "no malloc headers (before Go 1.22 or GOEXPERIMENT=noallocheaders)"]
    if green_tea:
        rules.append("the Green Tea GC's inline mark bits (Go 1.26+)")
    return (f"the dump's Go version {version[:60]!r} is not goX.Y: assuming the newest "
            f"release's heap layout for phantoms and malloc headers: {' and '.join(rules)}")


def layout_features(version: str) -> tuple[bool, bool]:
    """(heap bits at the end of small spans, Green Tea inline mark bits) for this Go release."""
    release = go_release(version)
    experiments = version.split("X:", 1)[1] if "X:" in version else ""
    exps = {e.strip() for e in experiments.split(",") if e.strip()}
    heap_bits = release >= (1, 22) and "noallocheaders" not in exps
    green_tea = (release >= (1, 26) and "nogreenteagc" not in exps) or "greenteagc" in exps
    return heap_bits, green_tea


def phantom_mask(addr: np.ndarray, size: np.ndarray, pstart: np.ndarray, version: str,
                 ptr_size: int = 8, native: bool = True, out: np.ndarray | None = None
                 ) -> np.ndarray:
    """True for each object (sorted by address) that is a reserved span tail, not a real object.
    ``pstart``: the objects' pointer slot offsets (CSR), which say which have pointers. The
    native code writes into ``out`` when given (n bools)."""
    heap_bits, green_tea = layout_features(version)
    n = len(addr)
    if n == 0 or not (heap_bits or green_tea):
        if out is not None:
            out[:] = False
            return out
        return np.zeros(n, bool)
    npages = int(addr[-1] // PAGE - addr[0] // PAGE) + 1
    if native and _cscan is not None and npages <= min(8 * n + 1024, 2**31 - 1):
        out = np.empty(n, bool) if out is None else out
        _cscan.phantoms(np.ascontiguousarray(addr, np.uint64), np.ascontiguousarray(
            pstart, np.int64), np.ascontiguousarray(size, np.uint64), out.view(np.uint8), n,
            npages, PAGE // ptr_size // 8 if heap_bits else 0, 128 if green_tea else 0)
        return out
    has_ptr = pstart[1:] > pstart[:-1]
    small = size <= MAX_HEAP_BITS_IN_SPAN
    # A one-page span holds pointers if any object dumped from it has pointer slots (the runtime
    # dumps no pointer slots at all for noscan spans). Pages are numbered from the first
    # object's page; small int32 temporaries keep this cheap on millions of objects.
    rel = addr // PAGE - addr[0] // PAGE
    if rel[-1] < min(8 * n + 1024, 2**31 - 1):
        rel = rel.astype(np.int32)
        scan_page = np.zeros(int(rel[-1]) + 1, bool)
        scan_page[rel[small & has_ptr]] = True
        scan = small & scan_page[rel]
    else:  # a very sparse address range: sort-based membership instead of a table
        scan = small & np.isin(rel, np.unique(rel[small & has_ptr]))
    del rel
    reserve = np.zeros(n, np.int32)
    if heap_bits:
        reserve[scan] += PAGE // ptr_size // 8
    if green_tea:
        reserve[small & (size >= 16)] += 128
    end_in_page = (addr % PAGE).astype(np.int32)
    end_in_page += np.minimum(size, PAGE).astype(np.int32)
    return small & (end_in_page > PAGE - reserve)


def malloc_header_mask(size: np.ndarray, has_ptr: np.ndarray, first_ptr_past_header: np.ndarray,
                       version: str) -> np.ndarray:
    """True for each object that starts with a malloc header (its type descriptor address):
    a small object over 512 bytes with pointers whose first pointer slot is not at offset 0."""
    heap_bits, _ = layout_features(version)
    if not heap_bits:
        return np.zeros(len(size), bool)
    return ((size > MAX_HEAP_BITS_IN_SPAN) & (size <= MAX_SMALL_SIZE) & has_ptr
            & first_ptr_past_header)
