"""``--oid FILE``: object ids, one per line (``0xcaffe14e00000016 pkg.Name``, hex or decimal id,
a space, a name; blank lines and ``#`` comments allowed). An object whose first word (past its
malloc header, if it has one) equals an id gets that name."""

from __future__ import annotations

import os

import numpy as np

from heapspurs.index.geometry import MALLOC_HEADER
from heapspurs.index.heap_index import HeapIndex
from heapspurs.names.errors import OidFileError
from heapspurs.names.table import clean_label

MAX_OID_FILE = 256 << 20  # bytes; a list of classes, not a dump
MAX_NAME = 4096  # characters in one name


def read_oid_file(path: str) -> dict[int, str]:
    """id -> name; :class:`OidFileError` naming the file and line of the first bad line."""
    try:
        size = os.path.getsize(path)
        if size > MAX_OID_FILE:
            raise OidFileError(f"{path}: {size} bytes is too big for an OID file "
                               f"(at most {MAX_OID_FILE >> 20} MiB)")
        with open(path, "rb") as f:
            data = f.read(MAX_OID_FILE + 1)
    except OSError as e:
        raise OidFileError(f"{path}: cannot read: {e.strerror or e}") from None
    oids: dict[int, str] = {}
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise OidFileError(f"{path}:{number}: not UTF-8 text") from None
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        if len(parts) != 2:
            raise OidFileError(f"{path}:{number}: expected 'ID NAME' (e.g. "
                               f"'0xcaffe14e00000016 pkg.Type'), got {line[:60]!r}")
        text, name = parts
        try:
            oid = int(text, 16) if text.lower().startswith("0x") else int(text, 10)
        except ValueError:
            raise OidFileError(f"{path}:{number}: {text[:40]!r} is not a hex (0x...) or "
                               "decimal id") from None
        if not 0 <= oid < 2**64:
            raise OidFileError(f"{path}:{number}: id {text[:40]} does not fit in 64 bits")
        if len(name) > MAX_NAME:
            raise OidFileError(f"{path}:{number}: name longer than {MAX_NAME} characters")
        oids[oid] = clean_label(name)
    return oids


def first_words(ix: HeapIndex) -> tuple[np.ndarray, np.ndarray]:
    """(word, valid) per object: its first pointer-sized word, past the malloc header if it has
    one, in the dump's byte order; ``valid`` is False for objects too small to hold it."""
    ptr = ix.params.ptr_size
    skip = np.where(ix.header, MALLOC_HEADER, 0).astype(np.uint64)
    valid = ix.size >= skip + np.uint64(ptr)
    off = ix.off[valid].astype(np.int64) + skip[valid].astype(np.int64)
    buf = np.frombuffer(ix._map(), np.uint8)
    word = np.zeros(len(off), np.uint64)
    for k in range(ptr):
        shift = (ptr - 1 - k) if ix.params.big_endian else k
        word |= buf[off + k].astype(np.uint64) << np.uint64(8 * shift)
    out = np.zeros(len(ix.addr), np.uint64)
    out[valid] = word
    return out, valid


def object_name_ids(ix: HeapIndex, oids: dict[int, str]) -> tuple[np.ndarray, list[str]]:
    """(label id per object or -1, labels): the names the OID file gives the dump's objects."""
    n = len(ix.addr)
    if not oids or not n:
        return np.full(n, -1, np.int32), []
    keys = np.array(sorted(oids), np.uint64)
    labels = [oids[int(k)] for k in keys.tolist()]
    word, valid = first_words(ix)
    pos = np.minimum(np.searchsorted(keys, word), len(keys) - 1)
    hit = valid & (keys[pos] == word)
    return np.where(hit, pos, -1).astype(np.int32), labels
