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

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

T = TypeVar("T")
F64 = npt.NDArray[np.float64]


class _Run(Generic[T]):
    """One input's buffered list and the running maximum key of each of its items."""

    __slots__ = ("chunks", "items", "keys", "top")

    def __init__(self, chunks: Iterator[list[T]]) -> None:
        self.chunks = chunks
        self.items: list[T] = []
        self.keys: F64 = np.empty(0)
        self.top = -np.inf

    def refill(self, keys_of: Callable[[list[T]], F64]) -> bool:
        """Buffer the input's next non-empty list; False at the end of the input."""
        for chunk in self.chunks:
            if not chunk:
                continue
            keys = keys_of(chunk)
            keys[0] = max(keys[0], self.top)
            np.maximum.accumulate(keys, out=keys)
            self.items, self.keys, self.top = chunk, keys, float(keys[-1])
            return True
        return False


def merge_chunks(inputs: list[Iterator[list[T]]],
                 keys_of: Callable[[list[T]], F64]) -> Iterator[list[T]]:
    """The items of ``inputs`` (each a series of lists) in the order of
    ``heapq.merge(*flattened inputs, key=key)``, as lists (never an empty one);
    ``keys_of(list)`` gives the keys of a list's items (a new array: it is written to).

    >>> a = iter([[1.0, 5.0], [2.0, 6.0]])
    >>> b = iter([[3.0], [4.0, 7.0]])
    >>> [x for chunk in merge_chunks([a, b], np.array) for x in chunk]
    [1.0, 3.0, 4.0, 5.0, 2.0, 6.0, 7.0]
    """
    runs = [r for r in (_Run(c) for c in inputs) if r.refill(keys_of)]
    while runs:
        # Nothing unread sorts before (the smallest last running maximum, its input).
        last = min(range(len(runs)), key=lambda j: runs[j].top)
        bound = runs[last].top
        items: list[list[T]] = []
        keys: list[F64] = []
        for j, run in enumerate(runs):
            if j == last:
                cut = len(run.items)
            else:  # an earlier input's equal keys go first, a later one's after
                cut = int(np.searchsorted(run.keys, bound, "right" if j < last else "left"))
            if cut == len(run.items):
                items.append(run.items)
                keys.append(run.keys)
                run.items, run.keys = [], run.keys[:0]
            elif cut:
                items.append(run.items[:cut])
                keys.append(run.keys[:cut])
                del run.items[:cut]
                run.keys = run.keys[cut:]
        if len(items) == 1:
            yield items[0]
        else:
            # Stable: equal keys keep input order, then each input's own order.
            flat = [x for got in items for x in got]
            order = np.argsort(np.concatenate(keys), kind="stable").tolist()
            yield [flat[i] for i in order]
        runs = [r for r in runs if r.items or r.refill(keys_of)]
