"""Get the index of a dump: scan it (natively when the extension is built) and build the arrays."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from heapspurs.format.errors import about
from heapspurs.index import cache
from heapspurs.index.budget import Budget
from heapspurs.index.heap_index import HeapIndex, build_index
from heapspurs.index.memory import give_back
from heapspurs.index.pages import release_all
from heapspurs.index.workspace import Workspace, watch_resident
from heapspurs.scan.native_scan import AVAILABLE as NATIVE
from heapspurs.scan.native_scan import scan_native
from heapspurs.scan.python_scan import scan_python
from heapspurs.scan.raw import RawScan

_warned = False


def scan(path: str, ws: Workspace | None = None, program: str | None = None) -> RawScan:
    """One pass over the dump: the native scan, or the (slow) Python one with a notice; a core
    file is read through its program instead (heapspurs.core)."""
    global _warned
    if program is not None:
        from heapspurs.core.index import raw_scan_from_core

        return raw_scan_from_core(path, program)
    if NATIVE:
        return scan_native(path, ws)
    if not _warned:
        print("heapspurs: native scan not built (no C compiler at install time?); using the "
              "slower pure-Python scan", file=sys.stderr)
        _warned = True
    return scan_python(path)


STAGES = ("scan", "index", "save")


def workspace_for(path: str, use_cache: bool, budget: Budget) -> Workspace:
    """Where the build of this dump keeps its arrays: in memory when it fits the budget (or
    without the native scan, which the file-backed build needs); else files of the cache entry
    being written, or unlinked scratch files when there is no cache."""
    if budget.fits(os.path.getsize(path)):
        return Workspace()
    if not NATIVE:
        print("heapspurs: the native scan is not built: building the index in memory, over "
              "--memory", file=sys.stderr)
        return Workspace()
    folder = cache.new_entry(path) if use_cache else None
    if folder is not None:
        return Workspace(folder, budget.limit, keep=True)
    return Workspace.scratch(budget.limit)


class NeedsProgram(ValueError):
    """A core file was given without the program it is a core of (exit status 2)."""


def core_program(path: str, program: str | None) -> str | None:
    """The program to read ``path`` with when it is a core file (None: it is a dump)."""
    from heapspurs.core.elf_core import is_core

    if not is_core(path):
        return None
    if program is None:
        raise NeedsProgram(f"{path} is a core file: give the program it is a core of with "
                           "--program BINARY")
    return program


def load_index(path: str, use_cache: bool = True,
               progress: Callable[[str], None] | None = None,
               budget: Budget | None = None, program: str | None = None) -> HeapIndex:
    """The index of the dump (or core file, read with ``program``) at ``path``: from the
    on-disk cache when it is there and sound, else scanned, built and (with ``use_cache``)
    saved for next time, within ``budget`` (by default half of the memory). ``progress`` is
    called with the name of each stage of ``STAGES`` as it ends."""
    step = progress or (lambda stage: None)
    budget = budget or Budget.default()
    program = core_program(path, program)
    if use_cache:
        cached = cache.load(path, program)
        if cached is not None:
            cached.budget = budget
            if budget.explicit:  # the pages the answers touch, within it too
                watch_resident(cached, budget.limit, lambda ix: (release_all(ix), give_back()))
            return cached
    ws = Workspace() if program else workspace_for(path, use_cache, budget)
    ws.on_pass = step
    ws.watch()
    try:
        with about(path):  # every error of the scan names this dump
            raw = scan(path, ws, program)
            step("scan")
            ix = build_index(raw, path, ws)
            step("index")
            if use_cache:
                cache.save(ix, path, ws, program)
        step("save")
    except BaseException:
        ws.stop_watching()
        raise
    finally:
        ws.close()
    ix.workspace, ix.budget = ws, budget
    return ix
