"""Give freed memory back to the system. glibc keeps freed blocks in its heap for reuse, and
once numpy has freed a big temporary it raises its own thresholds (up to 32 MB for allocating
by mmap, 64 MB of free memory kept at the top of its heap): a pass that makes many mid-sized
temporaries can then leave tens of MB resident that nothing uses. ``malloc_trim`` gives them
back; elsewhere (not glibc) this does nothing."""

from __future__ import annotations

import ctypes


def _malloc_trim():
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None


_TRIM = _malloc_trim()


def give_back() -> None:
    """Return the free memory of the C heap to the system (a few ms at most)."""
    if _TRIM is not None:
        _TRIM(0)
