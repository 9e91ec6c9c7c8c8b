"""The one exception type every stage raises for a file that is not a well-formed heap dump."""

from __future__ import annotations


class DumpFormatError(Exception):
    """A heap dump is malformed; the message says what and where (byte offset, record number)."""

    def __init__(self, what: str, offset: int | None = None, record: int | None = None):
        self.what = what
        self.offset = offset
        self.record = record
        where = []
        if record is not None:
            where.append(f"record {record}")
        if offset is not None:
            where.append(f"byte offset {offset}")
        super().__init__(what + (f" (at {', '.join(where)})" if where else ""))
