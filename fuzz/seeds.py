"""Seed inputs: real dumps of the test programs, cut down to every record but most objects."""

from __future__ import annotations

import sys
from pathlib import Path

from heapspurs.format.reader import HEADER, DumpReader
from heapspurs.format.records import EndOfFile, Object

TESTS = Path(__file__).resolve().parent.parent / "tests"


def small_dump(path: Path, objects: int = 300) -> bytes:
    """The dump at ``path`` with only its first ``objects`` object records (still valid)."""
    data = path.read_bytes()
    out = bytearray(HEADER)
    kept = 0
    with DumpReader(str(path)) as reader:
        offsets = [off for off, _ in reader.records()]
    offsets.append(len(data))
    with DumpReader(str(path)) as reader:
        for (off, rec), end in zip(reader.records(), offsets[1:], strict=False):
            if isinstance(rec, Object):
                kept += 1
                if kept > objects:
                    continue
            if isinstance(rec, EndOfFile):
                break
            out += data[off:end]
    out.append(0)  # EOF
    return bytes(out)


def seed_dumps(programs: tuple[str, ...] = ("basics", "leaks", "names")) -> list[bytes]:
    sys.path.insert(0, str(TESTS))
    from gotools import NEWEST, run_dump

    return [small_dump(run_dump(p, NEWEST).dump) for p in programs]
