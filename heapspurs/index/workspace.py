"""Where the index build keeps its big arrays: in memory when the build fits the memory budget,
else in files mapped into memory and kept within the budget.

A file-backed array is a shared mapping of a ``.npy`` file: its pages are the kernel's page
cache, written back to disk as needed. What a process holds resident of such a mapping can be
dropped at any time (``MADV_DONTNEED``) without losing a byte: the next touch maps the page
again from the page cache (or the disk, when memory is short). So a build over budget allocates
its big arrays here and starts :meth:`Workspace.watch`, a thread that drops the mapped pages
whenever the resident set nears the budget; the passes whose random accesses would touch
more than the budget at once are split into windows that each fit (see ``window_count``).

The files are the cache's own (``ix_addr.npy`` ... in the cache entry being written, adopted by
:func:`heapspurs.index.cache.save` by a rename), or, without a cache, scratch files in the
system's temporary folder that are unlinked as soon as they are mapped: nothing is left behind.
"""

from __future__ import annotations

import mmap
import os
import shutil
import sys
import tempfile
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from heapspurs.index.budget import Budget, anonymous_bytes, resident_bytes
from heapspurs.index.memory import give_back
from heapspurs.index.pages import release_all

SMALL = 8 << 20  # arrays below this (or 1/16 of the budget) stay in memory
POLL_S = 0.001  # how often the watchdog looks at the resident set
MARGIN = 0.15  # the watchdog drops pages at (1 - MARGIN) of the budget
LOW_MARK = 0.6  # ... down to (1 - LOW_MARK) of it
TRIM_PIECE = 64 << 20  # bytes of a mapped array given back by one madvise


class NotEnoughDisk(ValueError):
    """The disk cannot hold the index of a build over the memory budget (exit status 2)."""


def _mib(n: float) -> str:
    return f"{n / (1 << 20):,.0f} MiB"


class Workspace:
    """Allocates the build's arrays: anonymous memory when ``folder`` is None, else ``.npy``
    files in ``folder`` (``keep``: they stay, for the cache to adopt; else unlinked at once)."""

    def __init__(self, folder: Path | None = None, budget: int = 0, keep: bool = False):
        self.folder = folder
        self.budget = budget
        self.keep = keep
        self._maps: dict[str, mmap.mmap] = {}
        self._files: dict[str, tuple[np.ndarray, Path]] = {}  # kept arrays and their files
        self.trims = 0
        self.passes: list[str] = []  # the passes of the build, in order (for the progress bar)
        self.on_pass: Callable[[str], None] | None = None
        self._watcher: threading.Thread | None = None
        self._also: list[weakref.ref] = []
        self._hand = 0  # where the next trim starts among the arrays' pieces
        self.created: list[Path] = []  # the files made (a scratch workspace's are unlinked)
        self._stop = threading.Event()

    @classmethod
    def scratch(cls, budget: int) -> Workspace:
        """File-backed, in the system's temporary folder, each file unlinked once mapped."""
        return cls(Path(tempfile.gettempdir()), budget, keep=False)

    @property
    def mapped(self) -> bool:
        return self.folder is not None

    # ---- arrays ----
    def empty(self, name: str, n: int, dtype: type | np.dtype) -> np.ndarray:
        """An array of ``n`` items whose contents the caller writes in full."""
        return self._array(name, n, dtype, zero=False)

    def zeros(self, name: str, n: int, dtype: type | np.dtype) -> np.ndarray:
        return self._array(name, n, dtype, zero=True)

    def _array(self, name: str, n: int, dtype: type | np.dtype, zero: bool) -> np.ndarray:
        dtype = np.dtype(dtype)
        if self.folder is None or n * dtype.itemsize < min(SMALL, self.budget // 16):
            return np.zeros(n, dtype) if zero else np.empty(n, dtype)
        if self.keep:
            path = self.folder / f"{name}.npy"
        else:  # a name of its own in the shared temporary folder
            fd, tmp = tempfile.mkstemp(prefix=f"heapspurs-{name}-", suffix=".npy",
                                       dir=self.folder)
            os.close(fd)
            path = Path(tmp)
        # A new file of the full length is sparse: pages are zero until written.
        try:
            a = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(n,))
        finally:
            if not self.keep:
                path.unlink(missing_ok=True)  # the mapping keeps the data until unmapped
        self._maps[name] = a._mmap
        self.created.append(path)
        if self.keep:
            self._files[name] = (a, path)
        return a

    def file_of(self, a: np.ndarray) -> Path | None:
        """The ``.npy`` file holding all of ``a`` (an array this workspace made), or None."""
        return next((path for held, path in self._files.values() if held is a), None)

    def forget(self, name: str) -> None:
        """Drop a finished array's pages and file (its memory goes when its last view does)."""
        mm = self._maps.pop(name, None)
        if mm is not None:
            _drop(mm)
        self._files.pop(name, None)
        if self.folder is not None and self.keep:
            (self.folder / f"{name}.npy").unlink(missing_ok=True)

    # ---- the budget ----
    def trim(self) -> None:
        """Give back resident pages (they stay in the page cache): all of the files mapped by
        what :meth:`trim_with` named (an index: clean pages, cheap to read again), then the
        mapped arrays' a piece at a time, going round from where the last trim stopped, until
        the resident set is down to the low mark. A piece's madvise is short, so the work going
        on meanwhile cannot take the resident set far past the budget, as it could while one
        call dropped gigabytes; and the pages dropped are the ones longest left alone by the
        trims, not all of the work's."""
        for ref in self._also:
            held = ref()
            if held is not None:
                release_all(held)
        give_back()
        low = int(self.budget * (1 - LOW_MARK)) if self.budget > 0 else 0
        pieces = [(mm, off) for mm in list(self._maps.values())
                  for off in range(0, _length(mm), TRIM_PIECE)]
        start = self._hand
        for k in range(len(pieces)):
            if low and resident_bytes() <= low:
                break
            mm, off = pieces[(start + k) % len(pieces)]
            _drop(mm, off, TRIM_PIECE)
            self._hand = start + k + 1
        self.trims += 1

    def trim_with(self, owner: object) -> None:
        """Also drop the pages of the file mappings ``owner`` holds (an index) when trimming."""
        self._also.append(weakref.ref(owner))

    def watch(self) -> None:
        """From now on, keep the resident set under the budget: a thread drops the mapped
        pages whenever it nears it (nothing in memory). It runs for as long as the arrays
        live: the questions asked of the index touch their pages too."""
        if self.folder is None or self.budget <= 0 or self._watcher is not None:
            return
        self._watcher = watch_resident(self, self.budget, Workspace.trim, self._stop)

    def stop_watching(self) -> None:
        if self._watcher is not None:
            self._stop.set()
            self._watcher.join()
            self._watcher = None

    def window_count(self, random_bytes: int) -> int:
        """Into how many windows to split a pass whose random accesses span ``random_bytes``,
        so that one window's share fits in half of the budget (1 in memory)."""
        if self.folder is None or self.budget <= 0:
            return 1
        return max(1, -(-random_bytes // max(1, self.budget // 2)))

    def note_pass(self, what: str) -> None:
        self.passes.append(what)
        if self.keep and self.folder is not None:
            try:  # a half-written cache entry still in use (see cache_space.STALE_TMP_S)
                os.utime(self.folder)
            except OSError:
                pass
        if self.on_pass is not None and self.mapped:
            self.on_pass(what)

    def check_disk(self, need: int) -> None:
        """Fail with one line when the folder's disk has less than ``need`` bytes free."""
        if self.folder is None:
            return
        free = shutil.disk_usage(self.folder).free
        if free < need:
            where = "the index cache" if self.keep else "the temporary folder"
            raise NotEnoughDisk(
                f"not enough disk space in {where} {self.folder.parent} for this dump's index "
                f"over the memory budget: it needs {_mib(need)}, {_mib(free)} are free (free "
                f"some, point {'XDG_CACHE_HOME' if self.keep else 'TMPDIR'} at a bigger disk, "
                f"or raise --memory)")

    def close(self) -> None:
        """Remove the folder of a cache entry that was not saved (once saved, the cache has
        renamed it into place); its arrays live on while they are mapped. (A scratch
        workspace's files are gone already.)"""
        if self.keep and self.folder is not None and self.folder.is_dir():
            shutil.rmtree(self.folder, ignore_errors=True)


def scratch_for(ix: Any, need: int) -> Workspace:
    """Where a whole-heap analysis of ``ix`` keeps arrays of ``need`` bytes in all: in memory
    when they fit in a quarter of a ``--memory`` budget (the index's pages it reads need room
    too) or half of the default one, else in scratch files kept within it (the watchdog then
    also drops the index's own mapped pages)."""
    budget = getattr(ix, "budget", None) or Budget.default()
    if need <= budget.limit // (4 if budget.explicit else 2):
        return Workspace()
    ws = Workspace.scratch(budget.limit)
    ws.trim_with(ix)
    ws.watch()
    # Kept with the index: its watchdog runs for as long as the arrays it made are in use.
    ix.scratch.append(ws)
    return ws


def watch_resident(owner: object, budget: int, trim: Callable[[Any], None],
                   stop: threading.Event | None = None) -> threading.Thread:
    """A thread calling ``trim(owner)`` whenever this process's resident set nears ``budget``,
    until ``stop`` is set or ``owner`` is gone (it holds it weakly)."""
    limit = int(budget * (1 - MARGIN))
    ref, stop = weakref.ref(owner), stop or threading.Event()

    def watch() -> None:
        while not stop.wait(POLL_S):
            held = ref()
            if held is None:
                return
            if resident_bytes() > limit:
                trim(held)
                left = anonymous_bytes()
                if left > limit:
                    # What no trim can drop is over the limit by itself: trimming again would
                    # only make the mapped pages come back over and over. Say so, and stop.
                    # (Not the resident set after the trim: the work it watches touches pages
                    # again while it trims, and would make it give up for good too early.)
                    over_budget(budget, left)
                    return
            del held

    thread = threading.Thread(target=watch, name="heapspurs-budget", daemon=True)
    thread.start()
    return thread


_warned_over = False


def over_budget(budget: int, held: int) -> None:
    """Warn (once) that a question holds more memory than the budget allows."""
    global _warned_over
    if not _warned_over:
        _warned_over = True
        print(f"heapspurs: warning: this run holds {_mib(held)} that cannot go to disk, over "
              f"the --memory budget of {_mib(budget)}: going on over it", file=sys.stderr)


def _drop(mm: mmap.mmap, start: int = 0, length: int | None = None) -> None:
    try:
        if length is None:
            mm.madvise(mmap.MADV_DONTNEED)
        else:
            mm.madvise(mmap.MADV_DONTNEED, start, min(length, len(mm) - start))
    except (OSError, ValueError, AttributeError):
        pass  # closed, or no madvise here


def _length(mm: mmap.mmap) -> int:
    try:
        return len(mm)
    except ValueError:  # closed
        return 0
