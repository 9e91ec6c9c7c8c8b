"""LEB128 decoding for the binary's sections (DWARF expressions, the Go build info).

Lenient, as the native DWARF reader is: a number cut short by the end of the data is the value
of the bytes there (the caller sees where it stopped). The dump's own uvarints are decoded
strictly (errors name the offset) by :mod:`heapspurs.format.reader`.
"""

from __future__ import annotations

from collections.abc import Sequence


def uleb128(data: Sequence[int], i: int, limit: int | None = None) -> tuple[int, int]:
    """(the unsigned LEB128 number at ``data[i]``, the index after it), reading at most ``limit``
    bytes when given; stops at the end of ``data``."""
    end = len(data) if limit is None else min(len(data), i + limit)
    v = shift = 0
    while i < end:
        b = data[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            break
    return v, i


def sleb128(data: Sequence[int], i: int) -> tuple[int, int]:
    """(the signed LEB128 number at ``data[i]``, the index after it); stops at the end of
    ``data``, the last byte read giving the sign."""
    v, j = uleb128(data, i)
    if j > i and data[j - 1] & 0x40:
        v -= 1 << (7 * (j - i))
    return v, j
