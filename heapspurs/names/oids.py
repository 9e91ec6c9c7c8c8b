"""``--oid FILE``: object ids, one per line (``0xcaffe14e00000016 pkg.Name``, hex or decimal id,
a space, a name; blank lines and ``#`` comments allowed). An object whose first word (past its
malloc header, if it has one) equals an id gets that name."""

from __future__ import annotations

import os

import numpy as np

from heapspurs.index import cache
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


def first_words(ix: HeapIndex) -> np.ndarray:
    """Each object's first pointer-sized word, past its malloc header if it has one, in the
    dump's byte order (0 for objects too small to hold one). Kept beside the cached index."""
    return cache.derived(ix, "first_word", lambda: _read_first_words(ix))


def _read_first_words(ix: HeapIndex) -> np.ndarray:
    ptr = ix.params.ptr_size
    skip = np.where(ix.header, MALLOC_HEADER, 0).astype(np.uint64)
    valid = np.nonzero(ix.size >= skip + np.uint64(ptr))[0]
    off = ix.off[valid].astype(np.int64) + skip[valid].astype(np.int64)
    del skip
    mm = ix.mapped()
    dtype = np.dtype(f"{'>' if ix.params.big_endian else '<'}u{ptr}")
    out = np.zeros(len(ix.addr), np.uint64)
    # One gather per alignment: a word-sized view of the file at each of the ptr offsets.
    rem = off % ptr
    for r in range(ptr):
        sel = np.nonzero(rem == r)[0]
        if len(sel) and len(mm) > r:
            view = np.frombuffer(mm, dtype=dtype, offset=r, count=(len(mm) - r) // ptr)
            out[valid[sel]] = view[(off[sel] - r) // ptr]
    return out


def object_name_ids(ix: HeapIndex, oids: dict[int, str]) -> tuple[np.ndarray, list[str]]:
    """(label id per object or -1, labels): the names the OID file gives the dump's objects."""
    n = len(ix.addr)
    if not oids or not n:
        return np.full(n, -1, np.int32), []
    keys = np.array(sorted(oids), np.uint64)
    labels = [oids[int(k)] for k in keys.tolist()]
    word = first_words(ix)
    pos = np.minimum(np.searchsorted(keys, word), len(keys) - 1).astype(np.int32)
    hit = keys[pos] == word
    if keys[0] == 0:  # an id of 0 must not name the objects too small to hold a word
        small = ix.size < np.where(ix.header, MALLOC_HEADER, 0) + ix.params.ptr_size
        hit &= ~small
    pos[~hit] = -1
    return pos, labels
