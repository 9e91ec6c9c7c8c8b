"""What the analyses derive from one index and keep for the rest of the run — reachability, the
dominator tree, root labelling, allocation sites, lookup tables — held by one object per index
(``ix.memo``) instead of private attributes hung on the index. What should outlive the run is
kept beside the cached index as well (:func:`heapspurs.index.cache.derived`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class Memo:
    """Values computed once per index, by name."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    def get(self, name: str, compute: Callable[[], T]) -> T:
        """The value kept as ``name``, computed by ``compute()`` the first time."""
        if name not in self._values:
            self._values[name] = compute()
        return self._values[name]

    def __contains__(self, name: str) -> bool:
        return name in self._values
