"""Several inputs given as lists of items, merged list by list in ``heapq.merge``'s order.

``heapq.merge(*inputs, key=key)`` hands out, again and again, the input head with
the smallest (key, input index). Within one input the keys need not be sorted
(late events, bad records keyed -inf). That order is the stable sort of all items
by (running maximum of the key within the item's input, input index): where an
input dips below its running maximum M, the other heads are all at or above M
(its item of key M was the smallest head when handed out, later items of the
others never undercut it) and none of a lower index sits exactly at M (it would
have gone before), so heapq takes the dipping item next, as the sort does. The
running maximum is sorted within each input, so lists merge like sorted runs:
whatever sorts before the smallest last running maximum of the buffered lists can
be handed out, because nothing still unread can sort before it. Proven equal on
hostile interleavings in tests/sources/test_merge_chunks.py.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class _Run(Generic[T]):
    """One input's buffered list and the running maximum key of each of its items."""

    __slots__ = ("chunks", "items", "keys", "top")

    def __init__(self, chunks: Iterator[list[T]]) -> None:
        self.chunks = chunks
        self.items: list[T] = []
        self.keys: list[float] = []
        self.top = -float("inf")

    def refill(self, key: Callable[[T], float]) -> bool:
        """Buffer the input's next non-empty list; False at the end of the input."""
        for chunk in self.chunks:
            if not chunk:
                continue
            top = self.top
            keys = []
            for k in map(key, chunk):
                if k > top:
                    top = k
                keys.append(top)
            self.items, self.keys, self.top = chunk, keys, top
            return True
        return False


def merge_chunks(inputs: list[Iterator[list[T]]],
                 key: Callable[[T], float]) -> Iterator[list[T]]:
    """The items of ``inputs`` (each a series of lists) in the order of
    ``heapq.merge(*flattened inputs, key=key)``, as lists (never an empty one).

    >>> a = iter([[1.0, 5.0], [2.0, 6.0]])
    >>> b = iter([[3.0], [4.0, 7.0]])
    >>> [x for chunk in merge_chunks([a, b], float) for x in chunk]
    [1.0, 3.0, 4.0, 5.0, 2.0, 6.0, 7.0]
    """
    runs = [r for r in (_Run(c) for c in inputs) if r.refill(key)]
    while runs:
        # Nothing unread sorts before (the smallest last running maximum, its input).
        last = min(range(len(runs)), key=lambda j: runs[j].keys[-1])
        bound = runs[last].keys[-1]
        parts: list[tuple[list[T], list[float]]] = []
        for j, run in enumerate(runs):
            if j == last:
                cut = len(run.items)
            elif j < last:
                cut = bisect_right(run.keys, bound)
            else:
                cut = bisect_left(run.keys, bound)
            if cut == len(run.items):
                parts.append((run.items, run.keys))
                run.items, run.keys = [], []
            elif cut:
                parts.append((run.items[:cut], run.keys[:cut]))
                del run.items[:cut], run.keys[:cut]
        if len(parts) == 1:
            yield parts[0][0]
        else:
            items = [x for got, _ in parts for x in got]
            keys = [k for _, ks in parts for k in ks]
            # Stable: equal keys keep input order, then each input's own order.
            yield [items[i] for i in sorted(range(len(keys)), key=keys.__getitem__)]
        runs = [r for r in runs if r.items or r.refill(key)]
