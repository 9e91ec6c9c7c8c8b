"""The one exception type every stage raises for a file that is not a well-formed heap dump."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


class DumpFormatError(Exception):
    """A heap dump is malformed; the message says what and where (byte offset, record number)
    and ``path`` which dump (set where the dump is opened: see :func:`about`)."""

    def __init__(self, what: str, offset: int | None = None, record: int | None = None,
                 path: str | os.PathLike[str] | None = None):
        self.what = what
        self.offset = offset
        self.record = record
        self.path = None if path is None else os.fspath(path)
        where = []
        if record is not None:
            where.append(f"record {record}")
        if offset is not None:
            where.append(f"byte offset {offset}")
        super().__init__(what + (f" (at {', '.join(where)})" if where else ""))


@contextmanager
def about(path: str | os.PathLike[str]) -> Iterator[None]:
    """Give the :class:`DumpFormatError` raised inside the path of the dump it is about (unless
    it already has one)."""
    try:
        yield
    except DumpFormatError as e:
        if e.path is None:
            e.path = os.fspath(path)
        raise
