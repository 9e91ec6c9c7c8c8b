"""Many reads of a core's memory at once, with numpy: the bytes of many ranges (one per span, one
per pointer slot) gathered from the core file's mmap by fancy indexing instead of one Python
read each. A range the core's file does not hold in one segment (or at all) is read with
:meth:`AddressSpace.read`, which raises what it raises (``UnmappedAddress``) or fills it from
the program's read-only segments, so that answers and errors are the one-read-at-a-time ones;
so is every range when the space's ``read`` is not :class:`AddressSpace`'s.
"""

from __future__ import annotations

import numpy as np

from heapspurs.core.memory import AddressSpace

CHUNK = 1 << 18  # ranges or words gathered at once: bounds the index arrays' memory


class Gather:
    """Vectorised reads of ``space``'s memory."""

    def __init__(self, space: AddressSpace):
        self.space = space
        core = space.core
        # A space that reads otherwise (a subclass's read) is read through its read only.
        direct = type(space).read is AddressSpace.read
        segs = [s for s in core.segments if s.filesz and direct]
        self.vaddr = np.array([s.vaddr for s in segs], np.uint64)
        self.filesz = np.array([s.filesz for s in segs], np.uint64)
        self.offset = np.array([s.offset for s in segs], np.int64)

    def buf(self) -> np.ndarray:
        """The core file's bytes. A view of its mmap, which cannot be closed while one is
        alive: taken for one gather and dropped before anything that may raise, so that no
        traceback keeps one."""
        assert self.space.core._map is not None
        return np.frombuffer(self.space.core._map, np.uint8)

    def words(self) -> np.ndarray:
        buf = self.buf()
        return buf[:len(buf) // 8 * 8].view("<u8")

    def offsets(self, addr: np.ndarray, n: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
        """(file offset, held) of each range ``[addr, addr + n)``: held when one segment's
        file bytes hold all of it (then the offset is where they are)."""
        addr = np.asarray(addr, np.uint64)
        n = np.asarray(n, np.uint64)
        if len(self.vaddr) == 0:
            return np.zeros(len(addr), np.int64), np.zeros(len(addr), bool)
        i = np.searchsorted(self.vaddr, addr, side="right").astype(np.int64) - 1
        safe = np.maximum(i, 0)
        rel = addr - self.vaddr[safe]  # wraps where i < 0: caught by i >= 0
        held = (i >= 0) & (addr >= self.vaddr[safe]) & (rel <= self.filesz[safe]) & (
            n <= self.filesz[safe] - np.minimum(rel, self.filesz[safe]))
        return np.where(held, self.offset[safe] + rel.astype(np.int64), 0), held

    def fixed(self, addr: np.ndarray, n: int) -> np.ndarray:
        """The ``n`` bytes at each address: a (len(addr), n) uint8 array."""
        addr = np.asarray(addr, np.uint64)
        out = np.empty((len(addr), n), np.uint8)
        if n == 0 or len(addr) == 0:
            return out
        off, held = self.offsets(addr, n)
        rows = np.nonzero(held)[0]
        step = max(1, CHUNK // n)
        buf = self.buf()
        for k in range(0, len(rows), step):
            r = rows[k:k + step]
            out[r] = buf[off[r][:, None] + np.arange(n)[None, :]]
        del buf
        for r in np.nonzero(~held)[0].tolist():
            out[r] = np.frombuffer(self.space.read(int(addr[r]), n), np.uint8)
        return out

    def ranges(self, addr: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The bytes of ranges of different lengths, concatenated, and where each starts in
        them (int64, one more than the ranges)."""
        addr = np.asarray(addr, np.uint64)
        n = np.asarray(n, np.int64)
        for r in np.nonzero((n < 0) | (n > self.space.core.size))[0][:1].tolist():
            self.space.read(int(addr[r]), int(n[r]))  # raises: a corrupt length
        starts = np.zeros(len(n) + 1, np.int64)
        np.cumsum(n, out=starts[1:])
        out = np.empty(int(starts[-1]), np.uint8)
        off, held = self.offsets(addr, n.astype(np.uint64))
        h = np.nonzero(held & (n > 0))[0]
        if len(h):
            within = np.arange(int(n[h].sum())) - np.repeat(np.cumsum(n[h]) - n[h], n[h])
            buf = self.buf()
            out[np.repeat(starts[h], n[h]) + within] = buf[np.repeat(off[h], n[h]) + within]
            del buf
        for r in np.nonzero(~held & (n > 0))[0].tolist():
            out[starts[r]:starts[r + 1]] = np.frombuffer(
                self.space.read(int(addr[r]), int(n[r])), np.uint8)
        return out, starts

    def words_at(self, at: np.ndarray) -> np.ndarray:
        """The little-endian words at the word-aligned addresses ``at``."""
        at = np.asarray(at, np.uint64)
        out = np.empty(len(at), np.uint64)
        for k in range(0, len(at), CHUNK):
            a = at[k:k + CHUNK]
            off, held = self.offsets(a, 8)
            fast = held & (off % 8 == 0)
            words = self.words()
            out[k:k + CHUNK][fast] = words[off[fast] // 8]
            del words
            for r in np.nonzero(~fast)[0].tolist():
                out[k + r] = self.space.word(int(a[r]))
        return out
