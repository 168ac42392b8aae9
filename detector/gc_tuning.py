"""Garbage-collector settings for the hot loop of replay and the service.

The pipeline allocates millions of short-lived event tuples and creates few
reference cycles. With CPython's default gen-0 threshold (700 allocations) the
collector runs thousands of times a second and walks the young objects each
time: about a tenth of a replay, more in the service, whose long-lived state
(baselines, profiles, templates) is large. Freezing what exists at start-up
moves it out of the collector's view, and a gen-0 threshold of 100,000 lets
it run a few times a second; cycles are still collected.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

THRESHOLDS = (100_000, 50, 100)


@contextlib.contextmanager
def throughput_gc() -> Iterator[None]:
    """Collector tuned for a long streaming run; the previous settings come back after.

    >>> import gc
    >>> before = gc.get_threshold()
    >>> with throughput_gc():
    ...     gc.get_threshold()[0]
    100000
    >>> gc.get_threshold() == before
    True
    """
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
