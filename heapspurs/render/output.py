"""Writing answers to stdout quickly."""

from __future__ import annotations

import sys
from collections.abc import Iterable


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
