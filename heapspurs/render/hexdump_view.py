"""``--hexdump``: ``hexdump -C`` style bytes, then one ``Pointer: 0xOFF`` line per pointer slot."""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def hexdump_lines(data: bytes) -> Iterator[str]:
    """The lines ``hexdump -C`` prints, repeated rows folded into ``*``."""
    prev: bytes | None = None
    folded = False
    for off in range(0, len(data), 16):
        row = data[off : off + 16]
        if row == prev and len(row) == 16:
            if not folded:
                yield "*"
                folded = True
            continue
        prev, folded = row, False
        left = " ".join(f"{b:02x}" for b in row[:8])
        right = " ".join(f"{b:02x}" for b in row[8:])
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
        yield f"{off:08x}  {left:<23}  {right:<23}  |{text}|"
    yield f"{len(data):08x}"


def pointer_slot_lines(offsets: Iterable[int]) -> Iterator[str]:
    for off in offsets:
        yield f"Pointer: 0x{int(off):x}"
