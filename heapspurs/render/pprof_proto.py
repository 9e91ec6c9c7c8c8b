"""A pprof profile (profile.proto, gzip-compressed) written by a small hand-written protobuf
encoder: string table, functions, locations (one line each) and samples with several values."""

from __future__ import annotations

import gzip
from collections.abc import Sequence


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # int64 values are two's complement
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field_varint(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value) if value else b""


def _field_bytes(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _packed(field: int, values: Sequence[int]) -> bytes:
    if not values:
        return b""
    return _field_bytes(field, b"".join(_varint(v) for v in values))


class ProfileBuilder:
    """Accumulates samples; :meth:`encode` gives the gzip-compressed profile."""

    def __init__(self, sample_types: Sequence[tuple[str, str]], default_type: str):
        self.strings: dict[str, int] = {"": 0}
        self.functions: dict[tuple[str, str], int] = {}
        self.locations: dict[tuple[int, int], int] = {}
        self.samples: list[tuple[list[int], list[int]]] = []
        self.sample_types = [(self.string(t), self.string(u)) for t, u in sample_types]
        self.default_type = self.string(default_type)

    def string(self, text: str) -> int:
        idx = self.strings.get(text)
        if idx is None:
            idx = self.strings[text] = len(self.strings)
        return idx

    def location(self, function: str, file: str, line: int) -> int:
        key = (function, file)
        fid = self.functions.get(key)
        if fid is None:
            fid = self.functions[key] = len(self.functions) + 1
            self.string(function)
            self.string(file)
        lkey = (fid, line)
        lid = self.locations.get(lkey)
        if lid is None:
            lid = self.locations[lkey] = len(self.locations) + 1
        return lid

    def sample(self, stack: Sequence[tuple[str, str, int]], values: Sequence[int]) -> None:
        """``stack``: (function, file, line), innermost first."""
        self.samples.append(([self.location(*f) for f in stack], list(values)))

    def encode(self) -> bytes:
        out = bytearray()
        for t, u in self.sample_types:
            out += _field_bytes(1, _field_varint(1, t) + _field_varint(2, u))
        for locs, values in self.samples:
            out += _field_bytes(2, _packed(1, locs) + _packed(2, values))
        for (fid, line), lid in self.locations.items():
            line_msg = _field_varint(1, fid) + _field_varint(2, line)
            out += _field_bytes(4, _field_varint(1, lid) + _field_bytes(4, line_msg))
        for (name, file), fid in self.functions.items():
            n, f = self.strings[name], self.strings[file]
            out += _field_bytes(5, _field_varint(1, fid) + _field_varint(2, n)
                                + _field_varint(3, n) + _field_varint(4, f))
        for text in self.strings:
            out += _field_bytes(6, text.encode("utf-8", errors="replace"))
        out += _field_varint(14, self.default_type)
        return gzip.compress(bytes(out), mtime=0)
