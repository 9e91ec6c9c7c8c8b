"""Build the optional native scan; pyproject.toml holds everything else."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "heapspurs.scan._cscan",
            ["heapspurs/scan/_cscan.c"],
            extra_compile_args=["-O2", "-std=c99", "-Wall", "-Wno-unused-label"],
            optional=True,  # without a C compiler heapspurs falls back to the Python scan
        )
    ]
)
