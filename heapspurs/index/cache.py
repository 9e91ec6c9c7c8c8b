"""The on-disk index cache: plain .npy arrays and one JSON file, never pickle.

Kept in ``$XDG_CACHE_HOME/heapspurs`` (or ``~/.cache/heapspurs``), one folder per dump, keyed by
the dump's absolute path, size, mtime and a hash of its first and last MiB. Written into a
temporary folder and renamed into place; loaded with memory maps; anything missing, damaged or
inconsistent is rebuilt, never trusted. A cache folder that is not ours, is a symlink or is not
writable is ignored with a notice. The folder has a size cap (see
:mod:`heapspurs.index.cache_space`): least-recently-used dumps are evicted first.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from heapspurs.format.records import (
    Defer,
    Finalizer,
    Goroutine,
    Itab,
    MemProfBucket,
    MemStats,
    OSThread,
    OtherRoot,
    Panic,
    Params,
    ProfileFrame,
    TypeRecord,
)
from heapspurs.index import cache_space
from heapspurs.index.atomic_file import write_atomic
from heapspurs.index.heap_index import HeapIndex, RootEdges
from heapspurs.index.pages import save_npy
from heapspurs.index.workspace import Workspace
from heapspurs.scan.raw import RawScan, SegmentInfo

FORMAT = 3  # bump when what is cached changes
INDEX_ARRAYS = ("addr", "size", "off", "pstart", "poff", "pval", "pdst", "phantom",
                "header", "rstart", "rsrc", "rptr", "goroutine_obj", "is_goroutine",
                "root_start", "root_order")
ROOT_ARRAYS = tuple(f.name for f in dataclasses.fields(RootEdges))
RAW_ARRAYS = ("frame_sp", "frame_size", "frame_off", "frame_depth", "frame_child",
              "frame_entry", "frame_pc", "frame_goroutine", "frame_name", "frame_pstart",
              "fptr_off", "fptr_val", "sample_addr", "sample_bucket")
TABLES = {"goroutines": Goroutine, "finalizers": Finalizer, "defers": Defer, "panics": Panic,
          "other_roots": OtherRoot, "types": TypeRecord, "itabs": Itab, "threads": OSThread}
MIB = 1 << 20

_noticed = False


def _notice(message: str) -> None:
    global _noticed
    if not _noticed:
        print(f"heapspurs: {message}", file=sys.stderr)
        _noticed = True


def cache_root() -> Path | None:
    """Our cache folder, or None (with a notice) when it cannot be used safely."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    root = Path(base) / "heapspurs"
    try:
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = os.lstat(root)
        if root.is_symlink() or not root.is_dir():
            _notice(f"ignoring the index cache {root}: not a plain folder")
            return None
        if st.st_uid != os.getuid():
            _notice(f"ignoring the index cache {root}: it belongs to another user")
            return None
        if not os.access(root, os.W_OK | os.X_OK):
            _notice(f"ignoring the index cache {root}: not writable")
            return None
    except OSError as e:
        _notice(f"ignoring the index cache {root}: {e.strerror or e}")
        return None
    return root


def file_key(path: str, version: int, tail: bool = False) -> str:
    """Identity of a file for a cache (32 hex digits): ``version`` (what is cached from it),
    its absolute path, size, mtime, its first MiB and, with ``tail``, its last MiB."""
    st = os.stat(path)
    h = hashlib.sha256(f"{version}\0{os.path.abspath(path)}\0{st.st_size}\0{st.st_mtime_ns}"
                       .encode())
    with open(path, "rb") as f:
        h.update(f.read(MIB))
        if tail and st.st_size > MIB:
            f.seek(max(st.st_size - MIB, MIB))
            h.update(f.read(MIB))
    return h.hexdigest()[:32]


def dump_key(path: str, program: str | None = None) -> str:
    """Identity of a dump file: path, size, mtime and its first and last MiB; for a core file,
    also that of the ``program`` its index is read with."""
    key = file_key(path, FORMAT, tail=True)
    if program is None:
        return key
    return hashlib.sha256(f"{key}\0{file_key(program, FORMAT)}".encode()).hexdigest()[:32]


def _plain(obj: object) -> object:
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj


def new_entry(path: str, program: str | None = None) -> Path | None:
    """A fresh folder for the cache entry of ``path`` to be written in (renamed into place by
    :func:`save`), or None when there is no usable cache."""
    root = cache_root()
    if root is None:
        return None
    try:
        return Path(tempfile.mkdtemp(prefix=f".{dump_key(path, program)}.", dir=root))
    except OSError as e:
        _notice(f"could not write the index cache: {e.strerror or e}")
        return None


def _put(tmp: Path, name: str, a: np.ndarray, ws: Workspace | None) -> None:
    """Write one array as ``tmp/name.npy``: a rename when it is already a file there."""
    held = ws.file_of(a) if ws is not None else None
    if held is not None and held.parent == tmp:
        os.replace(held, tmp / f"{name}.npy")
    else:
        with open(tmp / f"{name}.npy", "wb") as f:
            save_npy(f, a)


def save(ix: HeapIndex, path: str, ws: Workspace | None = None,
         program: str | None = None) -> None:
    """Write the index of ``path`` into the cache: into a fresh folder, or the folder of the
    workspace ``ws`` the build wrote its arrays in (those are adopted as they are)."""
    root = cache_root()
    if root is None:
        return
    key = dump_key(path, program)
    final = root / key
    if final.exists():
        return
    adopt = ws is not None and ws.keep and ws.folder is not None and ws.folder.parent == root
    tmp = ws.folder if adopt else Path(tempfile.mkdtemp(prefix=f".{key}.", dir=root))
    try:
        for name in INDEX_ARRAYS:
            _put(tmp, f"ix_{name}", getattr(ix, name), ws)
        for name in ROOT_ARRAYS:
            _put(tmp, f"root_{name}", getattr(ix.roots, name), ws)
        raw = ix.raw
        for name in RAW_ARRAYS:
            _put(tmp, f"raw_{name}", getattr(raw, name), ws)
        for leftover in tmp.glob("*.npy"):  # a workspace's arrays that are not the index
            if not leftover.name.startswith(("ix_", "root_", "raw_")):
                leftover.unlink()
        segments = []
        for i, s in enumerate(raw.segments):
            np.save(tmp / f"seg{i}_off.npy", s.ptr_off, allow_pickle=False)
            np.save(tmp / f"seg{i}_val.npy", s.ptr_val, allow_pickle=False)
            segments.append([s.bss, s.address, s.size, s.contents_offset])
        meta = {
            "format": FORMAT, "key": key, "count": int(ix.count),
            "dump": os.path.abspath(path),
            "params": _plain(raw.params), "file_size": raw.file_size,
            "record_count": raw.record_count, "names": raw.names, "segments": segments,
            "memstats": _plain(raw.memstats) if raw.memstats else None,
            "buckets": [_plain(b) for b in raw.buckets],
            **{name: [_plain(r) for r in getattr(raw, name)] for name in TABLES},
        }
        (tmp / "meta.json").write_text(json.dumps(meta))
        os.replace(tmp, final)
        ix.cache_folder = final
        cache_space.trim(root, keep=final)
    except OSError as e:
        _notice(f"could not write the index cache: {e.strerror or e}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load(path: str, program: str | None = None) -> HeapIndex | None:
    """The cached index of ``path`` (a core file's: read with ``program``), or None when there
    is none (or it is not trustworthy)."""
    root = cache_root()
    if root is None:
        return None
    folder = root / dump_key(path, program)
    if not folder.is_dir() or folder.is_symlink():
        return None
    try:
        ix = _read(folder, path)
        cache_space.touch(folder)
        return ix
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError):
        shutil.rmtree(folder, ignore_errors=True)  # damaged: rebuild
        return None


def _array(folder: Path, name: str, length: int | None = None) -> np.ndarray:
    a = np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)
    if length is not None and len(a) != length:
        raise ValueError(f"cached {name} has {len(a)} entries, expected {length}")
    return a


def _read(folder: Path, path: str) -> HeapIndex:
    meta = json.loads((folder / "meta.json").read_text())
    if meta.get("format") != FORMAT:
        raise ValueError("old cache format")
    n = int(meta["count"])
    raw = RawScan.__new__(RawScan)
    empty = np.zeros(0, np.uint64)
    raw.__dict__.update(
        params=Params(**meta["params"]), file_size=meta["file_size"],
        record_count=meta["record_count"], names=list(meta["names"]),
        obj_addr=empty, obj_size=empty, obj_off=empty, obj_pstart=np.zeros(1, np.int64),
        ptr_off=empty, ptr_val=empty,
        memstats=MemStats(**meta["memstats"]) if meta["memstats"] else None,
        buckets=[MemProfBucket(b["address"], b["size"],
                               [ProfileFrame(**f) for f in b["frames"]], b["allocs"],
                               b["frees"]) for b in meta["buckets"]],
        segments=[SegmentInfo(bool(b), int(a), int(s), int(o), _array(folder, f"seg{i}_off"),
                              _array(folder, f"seg{i}_val"))
                  for i, (b, a, s, o) in enumerate(meta["segments"])],
        **{name: [cls(**r) for r in meta[name]] for name, cls in TABLES.items()},
    )
    for name in RAW_ARRAYS:
        setattr(raw, name, _array(folder, f"raw_{name}"))
    ix = HeapIndex(raw, path)
    for name in INDEX_ARRAYS:
        length = n + 1 if name in ("pstart", "rstart", "root_start") else None
        setattr(ix, name, _array(folder, f"ix_{name}", length))
    for name in ("addr", "size", "off", "phantom", "header", "is_goroutine"):
        if len(getattr(ix, name)) != n:
            raise ValueError(f"cached {name} does not match the object count")
    ix.roots = RootEdges(**{name: _array(folder, f"root_{name}") for name in ROOT_ARRAYS})
    ix.cache_folder = folder
    return ix


def derived(ix: HeapIndex, name: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """A per-object array computed from the index and the dump (e.g. each object's first word),
    kept beside the cached index once computed; recomputed when missing or unsound."""
    folder = getattr(ix, "cache_folder", None)
    target = folder / f"extra_{name}.npy" if folder is not None else None
    if target is not None and target.is_file() and not target.is_symlink():
        try:
            return _array(folder, f"extra_{name}", ix.count)
        except (OSError, ValueError):
            pass
    value = compute()
    if target is not None and folder.is_dir() and not folder.is_symlink():
        try:
            write_atomic(target, lambda f: save_npy(f, value))
            cache_space.trim(folder.parent, keep=folder)
            # Read back mapped, like every cached array: its pages can go back to the page
            # cache (a whole-heap array held in memory would count against --memory).
            return _array(folder, f"extra_{name}", ix.count)
        except OSError as e:
            _notice(f"could not write the index cache: {e.strerror or e}")
        except ValueError:
            pass
    return value


def extra_json(ix: HeapIndex, name: str) -> object | None:
    """A small JSON document kept beside the cached index (None: not there or unreadable)."""
    folder = getattr(ix, "cache_folder", None)
    if folder is None:
        return None
    target = folder / f"extra_{name}.json"
    if not target.is_file() or target.is_symlink():
        return None
    try:
        return json.loads(target.read_text())
    except (OSError, ValueError):
        return None


def save_extra_json(ix: HeapIndex, name: str, value: object) -> None:
    folder = getattr(ix, "cache_folder", None)
    if folder is None or not folder.is_dir() or folder.is_symlink():
        return
    try:
        write_atomic(folder / f"extra_{name}.json", json.dumps(value).encode())
    except OSError as e:
        _notice(f"could not write the index cache: {e.strerror or e}")
