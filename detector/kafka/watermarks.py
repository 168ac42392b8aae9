"""Per-partition event-time watermark bookkeeping for a consumer group member.

The rule (ARCHITECTURE "windows": with several partitions, the minimum):

* each assigned partition remembers the maximum event time seen on it;
* the watermark is the minimum of those maxima over the *active* partitions;
* a partition is active if it delivered a record within ``idle_timeout``
  seconds of processing time (wall clock), or if it was assigned less than
  ``idle_timeout`` ago and has not delivered anything yet (it may be about to);
* once idle, a partition no longer holds the watermark back; when it
  delivers again it becomes active again;
* the watermark never goes backwards: events older than it, from a partition
  that woke up, are late events for the windows stage to count;
* ``None`` until some active partition has data.

Only a live service meets idle partitions; a replay of a finished topic sees
every partition deliver, so the result does not depend on the wall clock there
as long as the consumer keeps up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable


class PartitionWatermarks:
    """Minimum over assigned partitions of each partition's max event time.

    >>> now = [0.0]
    >>> wm = PartitionWatermarks(idle_timeout=30.0, clock=lambda: now[0])
    >>> wm.assign(["p0", "p1"])
    >>> wm.observe("p0", 100.0)
    >>> wm.watermark() is None          # p1 assigned recently, may still deliver
    True
    >>> wm.observe("p1", 90.0); wm.observe("p0", 120.0)
    >>> wm.watermark()
    90.0
    >>> now[0] = 31.0; wm.observe("p0", 130.0)  # p1 silent for 31 s: idle
    >>> wm.watermark()
    130.0
    """

    def __init__(self, idle_timeout: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.idle_timeout = idle_timeout
        self._clock = clock
        self._max: dict[Hashable, float | None] = {}
        self._last_seen: dict[Hashable, float] = {}  # processing time of the last record
        self._emitted: float | None = None

    def assign(self, partitions: Iterable[Hashable]) -> None:
        now = self._clock()
        for p in partitions:
            self._max.setdefault(p, None)
            self._last_seen[p] = now

    def revoke(self, partitions: Iterable[Hashable]) -> None:
        for p in partitions:
            self._max.pop(p, None)
            self._last_seen.pop(p, None)

    def observe(self, partition: Hashable, event_time: float) -> None:
        """Record an event time from ``partition`` (assigning it if unknown)."""
        current = self._max.get(partition)
        if current is None or event_time > current:
            self._max[partition] = event_time
        self._last_seen[partition] = self._clock()

    def partition_max(self, partition: Hashable) -> float | None:
        return self._max.get(partition)

    def watermark(self) -> float | None:
        """Current watermark (event time, same unit as observed), monotonic."""
        horizon = self._clock() - self.idle_timeout
        low: float | None = None
        for p, seen in self._last_seen.items():
            if seen < horizon:
                continue  # idle: must not stall every window of the service
            m = self._max[p]
            if m is None:
                return self._emitted  # an active partition without data yet holds it back
            if low is None or m < low:
                low = m
        if low is not None and (self._emitted is None or low > self._emitted):
            self._emitted = low
        return self._emitted
