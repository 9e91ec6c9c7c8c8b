"""Does the ``--program`` binary belong to the dump? Architecture, Go version and the addresses
of the global-variable segments are compared; each mismatch is one sentence for the user."""

from __future__ import annotations

from collections.abc import Sequence

from heapspurs.format.records import Params
from heapspurs.names.elf_binary import Binary
from heapspurs.scan.raw import SegmentInfo

# Where the dump's data and BSS segments must lie, by the linker's marker symbols, else sections.
_MARKERS = {False: ("runtime.data", "runtime.edata"), True: ("runtime.bss", "runtime.ebss")}
_SECTIONS = (".data", ".noptrdata", ".bss", ".noptrbss")


def check_binary(binary: Binary, params: Params, segments: Sequence[SegmentInfo]) -> list[str]:
    """Sentences describing each way ``binary`` does not match the dump (empty: it matches)."""
    problems: list[str] = []
    if binary.arch is not None and binary.arch != params.arch:
        problems.append(f"the binary is for {binary.arch}, the dump for {params.arch}")
    elif binary.ptr_size != params.ptr_size:
        problems.append(f"the binary has {binary.ptr_size}-byte pointers, the dump "
                        f"{params.ptr_size}-byte ones")
    if binary.go_version and params.version and binary.go_version != params.version:
        problems.append(f"the binary was built by {binary.go_version}, the dump written by "
                        f"{params.version}")
    for seg in segments:
        kind = "BSS" if seg.bss else "data"
        start, end = (binary.markers.get(m) for m in _MARKERS[seg.bss])
        if start is not None and end is not None:
            if (start, end) != (seg.address, seg.end):
                problems.append(f"the dump's {kind} segment {seg.address:#x}-{seg.end:#x} is not "
                                f"the binary's ({start:#x}-{end:#x})")
            continue
        ranges = [binary.sections[s] for s in _SECTIONS if s in binary.sections]
        if ranges and not any(a <= seg.address and seg.end <= b for a, b in ranges):
            problems.append(f"the dump's {kind} segment {seg.address:#x}-{seg.end:#x} lies in "
                            "none of the binary's data sections")
    return problems
