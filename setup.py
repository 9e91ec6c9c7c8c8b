"""Build the optional native code (the scan, the graph walks, the DWARF walker); pyproject.toml
holds the rest. Without a C compiler heapspurs falls back to slower Python/numpy versions."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "heapspurs.scan._cscan",
            ["heapspurs/scan/_cscan.c", "heapspurs/scan/cscan_records.c",
             "heapspurs/scan/cscan_edges.c", "heapspurs/scan/cscan_print.c",
             "heapspurs/scan/cscan_listing.c", "heapspurs/scan/cscan_phantoms.c",
             "heapspurs/scan/cscan_order.c"],
            depends=["heapspurs/scan/cscan.h", "heapspurs/scan/record_layouts.h"],
            extra_compile_args=["-O2", "-std=c99", "-Wall", "-Wno-unused-label"],
            optional=True,  # without a C compiler heapspurs falls back to the Python scan
        ),
        Extension(
            "heapspurs.analysis._cgraph",
            ["heapspurs/analysis/_cgraph.c", "heapspurs/analysis/cgraph_levels.c"],
            depends=["heapspurs/analysis/cgraph.h"],
            extra_compile_args=["-O2", "-std=c99", "-Wall"],
            optional=True,  # without it: BFS and the dominator tree in numpy/Python (slower)
        ),
        Extension(
            "heapspurs.names._cdwarf",
            ["heapspurs/names/_cdwarf.c", "heapspurs/names/cdwarf_read.c",
             "heapspurs/names/cdwarf_loclists.c", "heapspurs/names/cdwarf_walk.c"],
            depends=["heapspurs/names/cdwarf.h"],
            extra_compile_args=["-O2", "-std=c99", "-Wall"],
            optional=True,  # without it: the pyelftools DWARF reader (slow on big binaries)
        ),
    ]
)
