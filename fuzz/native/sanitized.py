"""Load the sanitized builds of the native extensions in place of the ordinary ones.

scripts/fuzz-native.sh builds them into .fuzz/build/lib; :func:`install` loads each one under
its package name (``heapspurs.scan._cscan`` and so on) before anything of heapspurs imports it,
so that the Python code in between (the scan driver, the DWARF section reader) is the project's
own and the C code is the instrumented copy.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("HEAPSPURS_FUZZ_BUILD", ROOT / ".fuzz" / "build" / "lib"))
MODULES = ("heapspurs.scan._cscan", "heapspurs.analysis._cgraph", "heapspurs.names._cdwarf")


def install() -> dict[str, object]:
    """Import the sanitized extensions under their own names; returns them by name."""
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    loaded = {}
    for name in MODULES:
        path = BUILD.joinpath(*name.split(".")).with_name(name.rsplit(".", 1)[1] + suffix)
        if not path.exists():
            raise SystemExit(f"fuzz.native: {path} is missing: run scripts/fuzz-native.sh")
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
        loaded[name.rsplit(".", 1)[1]] = module
    return loaded
