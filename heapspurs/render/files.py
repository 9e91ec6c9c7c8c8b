"""Writing output files safely: atomically (:func:`heapspurs.index.atomic_file.write_atomic`),
never over an input file."""

from __future__ import annotations

import os
from pathlib import Path

from heapspurs.index.atomic_file import write_atomic

__all__ = ["UnsafeOutput", "check_not_input", "check_writable", "write_atomic"]


class UnsafeOutput(Exception):
    """The output path would overwrite an input, or cannot be written (exit status 2)."""


def check_not_input(output: str | os.PathLike[str], inputs: list[str]) -> None:
    out = Path(output)
    for given in inputs:
        try:
            if out.exists() and os.path.samefile(out, given):
                raise UnsafeOutput(f"refusing to write {out}: it is the input file {given}")
        except FileNotFoundError:
            continue
        if out.resolve() == Path(given).resolve():
            raise UnsafeOutput(f"refusing to write {out}: it is the input file {given}")


def check_writable(output: str | os.PathLike[str]) -> None:
    """Fail early (before any work) when ``output`` cannot be written: no such folder."""
    parent = Path(output).parent
    if not parent.is_dir():
        raise UnsafeOutput(f"cannot write {output}: the folder {parent} does not exist")
    if Path(output).is_dir():
        raise UnsafeOutput(f"cannot write {output}: it is a folder")
