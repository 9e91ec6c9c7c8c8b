"""Writing output files safely: atomically (temp file + rename), never over an input file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


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


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                               dir=target.parent if str(target.parent) else ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
