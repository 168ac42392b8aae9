"""The last hour of a quiet route's hits and requests, in five-window blocks.

A route with a request a minute holds too few requests in five windows to
test; the ratio detectors grow the span they test to 15, 30 and 60 windows.
Per-window entries would cost up to sixty per route: the history keeps
running sums per block of :data:`BLOCK` windows instead, about
``SPAN_BLOCKS + 1`` entries (the oldest block of a horizon is counted whole,
so a horizon is up to ``BLOCK - 1`` windows longer than its name).

A block is cut at a deployment, so the span since it is summed exactly.
Each block also holds the part of it the baseline has not learned yet (its
quiet windows): those are learned once the block leaves the longest horizon,
so the start of a slow surge is not learned as normal before it is flagged,
and dropped when a window is flagged (they were the flag's evidence).

>>> from collections import deque
>>> h: deque[list[int]] = deque()
>>> for w in (100, 101, 103, 107):
...     record(h, w, 1, 2, defer=True, deployed=103)
>>> [b[0] for b in h], totals(h, 100), totals(h, 103)
([100, 103, 107], (4, 8), (2, 4))
>>> expire(h, 103)  # the block from window 100 leaves; what it still owed the baseline
[(2, 4, 2)]
"""

from __future__ import annotations

from collections import deque

BLOCK = 5  # windows per block
LONG_HORIZONS = (15, 30, 60)  # windows, tried in turn while a shorter one holds too few requests
SPAN_BLOCKS = max(LONG_HORIZONS) // BLOCK  # blocks before the current one a horizon reaches

# One block: [its first window index, hits, requests, hits, requests and windows not
# learned yet].
B_FIRST, B_HITS, B_REQS, B_OWED_HITS, B_OWED_REQS, B_OWED_WINDOWS = range(6)


def record(hist: deque[list[int]], widx: int, k: int, n: int, *, defer: bool,
           deployed: int | None = None) -> None:
    """Add window ``widx`` (``k`` hits in ``n`` requests); ``defer``: learned later;
    ``deployed``: the window of the service's latest deployment, where a block ends."""
    last = hist[-1][B_FIRST] if hist else None
    if (last is not None and last // BLOCK == widx // BLOCK
            and not (deployed is not None and last < deployed <= widx)):
        b = hist[-1]
        b[B_HITS] += k
        b[B_REQS] += n
    else:
        b = [widx, k, n, 0, 0, 0]
        hist.append(b)
    if defer:
        b[B_OWED_HITS] += k
        b[B_OWED_REQS] += n
        b[B_OWED_WINDOWS] += 1


def totals(hist: deque[list[int]], first: int) -> tuple[int, int]:
    """(hits, requests) of the blocks starting at window ``first`` or later."""
    k = n = 0
    for b in reversed(hist):
        if b[B_FIRST] < first:
            break
        k += b[B_HITS]
        n += b[B_REQS]
    return k, n


def owed_before(hist: deque[list[int]], first: int) -> tuple[int, int]:
    """(hits, requests) not learned yet of the blocks starting before window ``first``.

    >>> h: deque[list[int]] = deque()
    >>> record(h, 100, 1, 30, defer=True)
    >>> record(h, 103, 5, 6, defer=True, deployed=103)
    >>> owed_before(h, 103)
    (1, 30)
    """
    k = n = 0
    for b in hist:
        if b[B_FIRST] >= first:
            break
        k += b[B_OWED_HITS]
        n += b[B_OWED_REQS]
    return k, n


def forgive(hist: deque[list[int]]) -> None:
    """A window was flagged: nothing the history still owes the baseline is learned."""
    for b in hist:
        b[B_OWED_HITS] = b[B_OWED_REQS] = b[B_OWED_WINDOWS] = 0


def expire(hist: deque[list[int]], first: int) -> list[tuple[int, int, int]]:
    """Drop the blocks starting before window ``first``; return what they owed the
    baseline as (hits, requests, windows), oldest first."""
    owed = []
    while hist and hist[0][B_FIRST] < first:
        b = hist.popleft()
        if b[B_OWED_WINDOWS]:
            owed.append((b[B_OWED_HITS], b[B_OWED_REQS], b[B_OWED_WINDOWS]))
    return owed
