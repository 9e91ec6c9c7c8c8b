"""Writing answers to stdout quickly."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable


def write_lines(lines: Iterable[str]) -> None:
    """Write lines to stdout in large chunks (fast for --print on big dumps)."""
    out = sys.stdout
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= 4096:
            out.write("\n".join(chunk) + "\n")
            chunk.clear()
    if chunk:
        out.write("\n".join(chunk) + "\n")
    out.flush()


def binary_output() -> tuple[int, Callable[[bytes], None]]:
    """(file descriptor native code may write to or -1, write function for Python's bytes).
    Python's writes are flushed at once, so that they keep their order with what native code
    writes to the descriptor directly; without a descriptor (a test's StringIO) the bytes are
    decoded and written as text."""
    out = sys.stdout
    binary = getattr(out, "buffer", None)
    try:
        fd = out.fileno() if binary is not None else -1
    except (OSError, ValueError):
        fd = -1
    if binary is not None:
        def write(data: bytes) -> None:
            binary.write(data)
            binary.flush()
        return fd, write
    return -1, lambda data: out.write(data.decode("utf-8", errors="replace"))
