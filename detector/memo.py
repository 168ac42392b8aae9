"""Memos keyed by input-derived strings, bounded by bytes as well as entries.

An entry count alone does not bound memory when the input chooses the key
sizes: 65,536 entries of 2 KB keys are 130 MB. A :class:`Memo` is cleared
wholesale (rather than LRU: a hit stays a plain ``dict.get``) when either limit
would be passed; callers only memoise pure results, so a clear costs time,
never a different answer.
"""

from __future__ import annotations

import sys
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")
ENTRY_BYTES = 120  # a dict slot, the key's tuple or the value's container, roughly


def size_of(*parts: str | None) -> int:
    """Bytes held by an entry whose key or value holds the strings ``parts``."""
    return ENTRY_BYTES + sum(sys.getsizeof(p) for p in parts if p is not None)


class Memo(dict[K, V]):
    """A dict of pure results under ``max_entries`` entries and ``max_bytes`` bytes.

    >>> m: Memo[str, int] = Memo(max_entries=10, max_bytes=2000)
    >>> for i in range(20):
    ...     m.put(str(i) * 100, i, size_of(str(i) * 100))
    >>> len(m) < 20 and m.nbytes <= 2000
    True
    """

    __slots__ = ("max_entries", "max_bytes", "nbytes")

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        super().__init__()
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.nbytes = 0

    def put(self, key: K, value: V, size: int) -> None:
        """Memoise ``value`` for ``key``, an entry of about ``size`` bytes."""
        if size > self.max_bytes:
            return  # one entry that would take the whole budget is not worth keeping
        if len(self) >= self.max_entries or self.nbytes + size > self.max_bytes:
            self.clear()
        self[key] = value
        self.nbytes += size

    def clear(self) -> None:
        super().clear()
        self.nbytes = 0
