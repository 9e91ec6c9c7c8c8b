"""The index cache's size: a cap on the cache folder, least-recently-used dumps evicted first.

The cap is ``$HEAPSPURS_CACHE_MAX`` (bytes, or with a unit: ``500M``, ``2GiB``; ``0`` keeps
only the dump in use), else the smaller of 2 GiB and a tenth of the space the cache could use
(the free space of its disk plus what it holds already). An entry bigger than that (the index
of a dump of several GB) widens the default cap to its size plus that, at most half of the space
the cache could use: it stays while smaller dumps come and go, instead of being evicted by the
next one. A dump's entry counts as used when it is loaded or saved, or something is added
beside it; the entry in use is never evicted. A half-written entry (a hidden folder) is removed
when it has not changed for an hour: a build over a memory budget touches its folder as it goes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MAX = 2 << 30
ENTRY = re.compile(r"[0-9a-f]{32}")  # one folder per dump, named by cache.dump_key
UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
STALE_TMP_S = 3600  # a half-written entry older than this was left by a run that died


@dataclass
class Entry:
    """One dump's folder in the cache."""

    folder: Path
    bytes: int
    used: float  # when it was last used (seconds since the epoch)
    dump: str | None  # the dump's path when it was cached (None: not recorded)


def parse_size(text: str) -> int:
    """``"1073741824"``, ``"500M"``, ``"2GiB"``, ``"1.5g"`` -> bytes; ValueError otherwise."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", text.lower())
    if not m:
        raise ValueError(f"{text!r} is not a size (e.g. 2GiB, 500M or a number of bytes)")
    return int(float(m.group(1)) * UNITS[m.group(2)])


def folder_bytes(folder: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def entries(root: Path) -> list[Entry]:
    """The dumps cached in ``root``, least recently used first."""
    out = []
    for folder in root.iterdir():
        if not ENTRY.fullmatch(folder.name) or folder.is_symlink() or not folder.is_dir():
            continue
        try:
            used = folder.stat().st_mtime
        except OSError:
            continue
        dump = None
        try:
            dump = json.loads((folder / "meta.json").read_text()).get("dump")
        except (OSError, ValueError, AttributeError):
            pass
        out.append(Entry(folder, folder_bytes(folder), used, dump))
    return sorted(out, key=lambda e: e.used)


def cache_max(root: Path, found: list[Entry]) -> tuple[int, str]:
    """(the cap in bytes, where it comes from), for a cache holding the entries ``found``."""
    used = sum(e.bytes for e in found)
    largest = max((e.bytes for e in found), default=0)
    given = os.environ.get("HEAPSPURS_CACHE_MAX")
    if given:
        try:
            return parse_size(given), "HEAPSPURS_CACHE_MAX"
        except ValueError as e:
            print(f"heapspurs: ignoring HEAPSPURS_CACHE_MAX: {e}", file=sys.stderr)
    try:
        free = shutil.disk_usage(root).free
    except OSError:
        return DEFAULT_MAX, "default: 2 GiB"
    tenth = (free + used) // 10
    cap, source = ((tenth, "default: 10% of the disk space free for the cache")
                   if tenth < DEFAULT_MAX else (DEFAULT_MAX, "default: 2 GiB"))
    if cap < largest and largest + cap <= (free + used) // 2:
        return largest + cap, f"{source}, plus the largest entry"
    return cap, source


def touch(folder: Path) -> None:
    """Mark a dump's entry as used now."""
    try:
        os.utime(folder)
    except OSError:
        pass


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def trim(root: Path, keep: Path | None = None) -> list[Entry]:
    """Evict the least recently used entries (never ``keep``) until the folder is under its
    cap; also remove half-written entries left by runs that died. Returns the evicted."""
    now = time.time()
    for folder in root.iterdir():
        if folder.name.startswith(".") and folder.is_dir() and not folder.is_symlink():
            try:
                if now - folder.stat().st_mtime > STALE_TMP_S:
                    remove(folder)
            except OSError:
                pass
    found = entries(root)
    total = sum(e.bytes for e in found)
    cap, _ = cache_max(root, found)
    evicted = []
    for e in found:
        if total <= cap:
            break
        if keep is not None and e.folder == keep:
            continue
        remove(e.folder)
        total -= e.bytes
        evicted.append(e)
    return evicted


def clear(root: Path) -> tuple[int, int]:
    """Remove every entry (and half-written one): (entries removed, bytes freed)."""
    count = freed = 0
    for folder in root.iterdir():
        ours = ENTRY.fullmatch(folder.name) or folder.name.startswith(".")
        if ours and folder.is_dir() and not folder.is_symlink():
            freed += folder_bytes(folder)
            remove(folder)
            count += bool(ENTRY.fullmatch(folder.name))
    return count, freed
