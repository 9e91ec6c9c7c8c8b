"""The questions about heapspurs itself rather than a dump: ``--version`` (with what it runs
on: Python, numpy, which native extensions are built), ``--cache-info`` and ``--cache-clear``."""

from __future__ import annotations

import importlib
import json
import platform
import time
from importlib import metadata
from typing import Any

import click

from heapspurs.index import cache, cache_space
from heapspurs.render.objects_view import size_text
from heapspurs.render.output import write_lines

# The native extensions and what each does; without one, its Python counterpart runs (slower).
NATIVE = (("heapspurs.scan._cscan", "the dump scan, --print, phantoms"),
          ("heapspurs.analysis._cgraph", "dominators, graph walks"),
          ("heapspurs.names._cdwarf", "the DWARF reader"))


def native_status() -> list[tuple[str, str, bool]]:
    """(module, what it does, whether it imports) for each native extension."""
    out = []
    for module, what in NATIVE:
        try:
            importlib.import_module(module)
            ok = True
        except ImportError:
            ok = False
        out.append((module, what, ok))
    return out


def version_lines() -> list[str]:
    import numpy

    try:
        mine = metadata.version("heapspurs")
    except metadata.PackageNotFoundError:
        mine = "unknown (not installed)"
    lines = [f"heapspurs {mine}",
             f"Python {platform.python_version()} ({platform.python_implementation()}), "
             f"numpy {numpy.__version__}"]
    for module, what, ok in native_status():
        state = "native" if ok else "not built: the slower Python code runs instead"
        lines.append(f"{module} ({what}): {state}")
    return lines


def show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """The eager ``--version`` option's callback."""
    if not value or ctx.resilient_parsing:
        return
    write_lines(version_lines())
    ctx.exit(0)


def _root():
    root = cache.cache_root()
    if root is None:
        raise click.UsageError("the index cache folder cannot be used (see the notice above)")
    return root


def cache_info(as_json: bool) -> None:
    """--cache-info: the cache folder, its cap and the dumps in it, most recently used first."""
    root = _root()
    found = cache_space.entries(root)
    total = sum(e.bytes for e in found)
    cap, source = cache_space.cache_max(root, found)
    if as_json:
        doc: dict[str, Any] = {
            "folder": str(root), "bytes": total, "max_bytes": cap, "max_source": source,
            "entries": [{"key": e.folder.name, "dump": e.dump, "bytes": e.bytes,
                         "last_used": time.strftime("%Y-%m-%dT%H:%M:%S%z",
                                                    time.localtime(e.used))}
                        for e in reversed(found)]}
        write_lines([json.dumps(doc, indent=2)])
        return
    lines = [f"Index cache {root}: {len(found)} dump(s), {size_text(total)} of at most "
             f"{size_text(cap)} ({source}; HEAPSPURS_CACHE_MAX sets it)"]
    for e in reversed(found):
        used = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.used))
        lines.append(f"  {size_text(e.bytes):>10}  used {used}  {e.dump or e.folder.name}")
    write_lines(lines)


def cache_clear(as_json: bool) -> None:
    """--cache-clear: remove every cached index."""
    root = _root()
    count, freed = cache_space.clear(root)
    if as_json:
        write_lines([json.dumps({"folder": str(root), "removed": count, "bytes": freed})])
    else:
        write_lines([f"Removed {count} cached dump index(es) ({size_text(freed)}) from {root}"])
