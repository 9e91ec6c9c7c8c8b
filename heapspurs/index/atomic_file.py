"""Writing a file atomically: into a temporary file beside it, then renamed into place.

The one way heapspurs writes files (output files and the files kept beside a cached index), so a
reader sees the old file or the whole new one, never a part. It lives in the index stage, the
lowest that writes files; the render stage imports it from here.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomic(path: str | os.PathLike[str],
                 data: bytes | Callable[[BinaryIO], object]) -> None:
    """Write ``data`` (bytes, or a function that writes to the binary file it is given) to a
    temporary file beside ``path``, then rename it into place with the usual permissions
    (0666 less the umask). On any failure the temporary file is removed and the error raised."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                               dir=target.parent if str(target.parent) else ".")
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
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
