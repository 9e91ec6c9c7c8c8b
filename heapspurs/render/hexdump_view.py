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


def field_lines(data: bytes, fields: list[tuple[str, str, int, int, str]], big_endian: bool,
                ptr: int) -> Iterator[str]:
    """A typed object's fields by name with their values: numbers, pointers, the pointer and
    length of strings, slices' pointer, length and capacity, interfaces' two words."""
    order = "big" if big_endian else "little"

    def word(off: int, n: int = ptr) -> int | None:
        if off < 0 or off + n > len(data):
            return None
        return int.from_bytes(data[off : off + n], order)

    yield "Fields:"
    for path, name, off, size, shape in fields:
        if shape == "string":
            value = f"{{ptr {_hx(word(off))}, len {word(off + ptr)}}}"
        elif shape == "slice":
            value = (f"{{ptr {_hx(word(off))}, len {word(off + ptr)}, "
                     f"cap {word(off + 2 * ptr)}}}")
        elif shape == "interface":
            value = f"{{type/itab {_hx(word(off))}, data {_hx(word(off + ptr))}}}"
        elif shape == "pointer":
            value = _hx(word(off))
        elif size in (1, 2, 4, 8):
            raw = word(off, size)
            value = str(raw) if raw is not None else "?"
        else:
            value = f"({size} bytes)"
        yield f"  +0x{off:x} {path or '.'} {name} = {value}"


def _hx(v: int | None) -> str:
    return "?" if v is None else f"0x{v:x}"
