"""How much memory a run may spend (``--memory SIZE``), what this process holds now, and what
building the index of a dump is expected to need.

The default budget is half of the physical memory, at most what is available. A build that is
expected to fit runs in memory as it always did; one that is not works in file-backed arrays
kept within the budget (see :mod:`heapspurs.index.workspace`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from heapspurs.index.cache_space import parse_size

# Measured on the benchmark heaps (tests/goprogs/big, 0.3-4 GB dumps): the in-memory build
# peaks at 1.75-1.85 times the dump's size. Rounded up, plus the interpreter and numpy.
BUILD_PER_DUMP_BYTE = 2.0
BASELINE = 100 << 20
MIN_BUDGET = 1 << 20  # (tiny budgets are for tests: every pass then runs in many windows)


def _meminfo() -> dict[str, int]:
    """/proc/meminfo in bytes (empty where there is none)."""
    out = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                key, _, rest = line.partition(":")
                parts = rest.split()
                if parts and parts[0].isdigit():
                    out[key] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    except OSError:
        pass
    return out


def physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return _meminfo().get("MemTotal", 8 << 30)


def default_budget() -> int:
    """Half of the physical memory, at most what the system says is available."""
    half = physical_memory() // 2
    available = _meminfo().get("MemAvailable")
    return max(MIN_BUDGET, min(half, available) if available else half)


def parse_budget(text: str) -> int:
    """``--memory``'s value in bytes (``1500M``, ``2GiB``, a number of bytes)."""
    size = parse_size(text)
    if size < MIN_BUDGET:
        raise ValueError(f"{text!r} is below the least heapspurs can work in (1M)")
    return size


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _statm() -> list[int]:
    """/proc/self/statm's fields, in pages (empty if unknown)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return []


def resident_bytes() -> int:
    """This process's resident set now (what peak-RSS figures measure), or 0 if unknown."""
    fields = _statm()
    return fields[1] * _PAGE if len(fields) > 1 else 0


def anonymous_bytes() -> int:
    """What of this process's resident set no trim can give back: its resident pages less the
    file-backed and shared ones (mapped files' pages drop to the page cache), or 0 if unknown."""
    fields = _statm()
    return max(0, fields[1] - fields[2]) * _PAGE if len(fields) > 2 else 0


def build_estimate(dump_size: int) -> int:
    """What building the index of a dump of this size in memory is expected to peak at."""
    return int(dump_size * BUILD_PER_DUMP_BYTE) + BASELINE


@dataclass(frozen=True)
class Budget:
    """A memory budget in bytes, and whether the user set it (``--memory``)."""

    limit: int
    explicit: bool = False

    @classmethod
    def default(cls) -> Budget:
        return cls(default_budget(), False)

    def fits(self, dump_size: int) -> bool:
        """Whether the in-memory build of a dump of this size fits."""
        return build_estimate(dump_size) <= self.limit
