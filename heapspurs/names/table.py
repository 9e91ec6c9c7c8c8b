"""A table of named address ranges (symbols, static objects, named heap objects): sorted arrays,
looked up by binary search, one at a time or for a whole array of addresses at once."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

# Unicode's control characters (category Cc: U+0000-U+001F, U+007F-U+009F) and its line and
# paragraph separators (Zl U+2028, Zp U+2029): what could break a line of output.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def clean_label(text: str) -> str:
    """A name from an untrusted file, safe for one line of text: control characters (newlines,
    escapes) become ``?``. Markup characters stay: renderers escape them for their format."""
    return _CONTROL.sub("?", text)


def offset_label(name: str, offset: int) -> str:
    """``name+0x8``; after a parenthesis (``main.x → (static)``) with a space: ``(static) +0x8``."""
    if offset == 0:
        return name
    return f"{name}{' ' if name.endswith(')') else ''}+{offset:#x}"


class NameTable:
    """Non-overlapping ranges ``[start, end)``, sorted by start, each with one of ``labels``
    (``ids[row]`` is the row's label; many rows may share one, e.g. objects of one class)."""

    def __init__(self, starts: np.ndarray, ends: np.ndarray, labels: list[str],
                 ids: np.ndarray | None = None):
        starts = np.asarray(starts, np.uint64)
        ends = np.asarray(ends, np.uint64)
        ids = np.arange(len(starts), dtype=np.int32) if ids is None else np.asarray(ids, np.int32)
        keep = ends > starts
        order = np.argsort(starts[keep], kind="stable")
        self.starts = starts[keep][order]
        self.ends = ends[keep][order]
        self.ids = ids[keep][order]
        self.labels = [clean_label(s) for s in labels]
        if len(self.starts) > 1:
            # Overlaps (aliases, nested symbols): a range ends where the next one starts.
            self.ends[:-1] = np.minimum(self.ends[:-1], self.starts[1:])

    @classmethod
    def empty(cls) -> NameTable:
        return cls(np.zeros(0, np.uint64), np.zeros(0, np.uint64), [])

    @classmethod
    def merge(cls, *tables: NameTable) -> NameTable:
        labels: list[str] = []
        ids = []
        for t in tables:
            ids.append(t.ids + len(labels))
            labels.extend(t.labels)
        return cls(np.concatenate([t.starts for t in tables] + [np.zeros(0, np.uint64)]),
                   np.concatenate([t.ends for t in tables] + [np.zeros(0, np.uint64)]), labels,
                   np.concatenate(ids + [np.zeros(0, np.int32)]))

    def __len__(self) -> int:
        return len(self.starts)

    def rows(self, addresses: np.ndarray) -> np.ndarray:
        """The row containing each address, or -1."""
        values = np.asarray(addresses, np.uint64)
        if not len(self.starts):
            return np.full(values.shape, -1, np.int64)
        row = np.searchsorted(self.starts, values, side="right").astype(np.int64) - 1
        safe = np.maximum(row, 0)
        return np.where((row >= 0) & (values < self.ends[safe]), row, -1)

    def find(self, address: int) -> tuple[str, int] | None:
        """(label, offset from the range's start) of the range containing ``address``."""
        row = int(self.rows(np.array([address], np.uint64))[0])
        if row < 0:
            return None
        return self.labels[int(self.ids[row])], address - int(self.starts[row])

    def label(self, address: int) -> str | None:
        """``name`` or ``name+0xOFF`` for the range containing ``address``."""
        hit = self.find(address)
        return None if hit is None else offset_label(*hit)

    def c_arrays(self, escape: Callable[[str], str] | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bytes]:
        """(starts, ends, label offset of each row, NUL-terminated labels) for native code;
        ``escape`` rewrites each label first (e.g. for the inside of a JSON string)."""
        labels = self.labels if escape is None else [escape(s) for s in self.labels]
        encoded = [s.encode("utf-8", errors="replace") for s in labels]
        offsets = np.zeros(len(encoded), np.int64)
        if encoded:
            np.cumsum(np.array([len(e) + 1 for e in encoded[:-1]], np.int64), out=offsets[1:])
        return self.starts, self.ends, offsets[self.ids], b"\0".join(encoded) + b"\0"
