"""Absurd event times judged against the input's own times, never the wall clock.

A replay must give the same incidents whenever it runs, so "too far in the
future" cannot mean "after the machine's clock". One event stamped years ahead
of its neighbours would still move the event-time watermark there and turn
every later event into a late one; so each input's access events are checked
against the input's own running time, as it streams:

* the first ``HEAD`` events are held and anchored on their median: those more
  than ``SLACK`` away from it are outliers;
* after that, an event more than ``SLACK`` after the latest accepted time is
  held. Held events that agree with each other (within ``SLACK`` of their
  median) and outnumber the events that kept arriving at the old time are a
  gap in the logs (``CONFIRM`` of them, or any majority of at least
  ``END_CONFIRM`` at the end of the input): they go on, in their order. Once
  ``DECIDE`` events have arrived at the old time first, they are outliers.

Outliers become bad records with a reason (dead-lettered and counted), never
silently dropped. The check is a pure function of one input's items, which is
why ``replay --workers`` (every worker reads every input) decides alike.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

from detector.events import AccessEvent, BadRecord, DeploymentEvent

Item = AccessEvent | DeploymentEvent | BadRecord
SLACK = 86400.0  # a day: more than any lateness, less than any plausible clock error
HEAD = 16
CONFIRM = 16
END_CONFIRM = 3
DECIDE = 64
HELD_MAX = 1024  # held events are bounded: past this a decision is forced
REASON = "timestamp far outside the input's time range"


def _outlier(ev: AccessEvent) -> BadRecord:
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ev.ts))
    return BadRecord(ev.source, ev.offset, f"{REASON}: {when}", b"")


def _median(events: list[AccessEvent]) -> float:
    times = sorted(e.ts for e in events)
    return times[len(times) // 2]


def _agreeing(held: list[AccessEvent]) -> list[AccessEvent]:
    mid = _median(held)
    return [e for e in held if abs(e.ts - mid) <= SLACK]


class _Guard:
    """State of one input's check (see the module docstring)."""

    def __init__(self) -> None:
        self.anchor = -float("inf")  # latest accepted event time
        self.held: list[AccessEvent] = []
        self.since = 0  # accepted events since the first held one

    def head(self, items: list[Item]) -> Iterator[Item]:
        events = [e for e in items if e.__class__ is AccessEvent]
        mid = _median(events) if len(events) >= END_CONFIRM else None
        for it in items:
            if it.__class__ is AccessEvent:
                ts = it[0]
                if mid is not None and abs(ts - mid) > SLACK:
                    yield _outlier(it)
                    continue
                if ts > self.anchor:
                    self.anchor = ts
            yield it

    def hold(self, ev: AccessEvent) -> Iterator[Item]:
        """Hold ``ev``, a jump ahead; every CONFIRM of them, see if the jump is real."""
        held = self.held
        if not held:
            self.since = 0
        held.append(ev)
        if len(held) % CONFIRM == 0 or len(held) >= HELD_MAX:
            yield from self.decide(final=False)

    def decide(self, final: bool) -> Iterator[Item]:
        """Release the held events that agree as a gap in the logs, or reject them."""
        held = self.held
        group = _agreeing(held)
        need = END_CONFIRM if final else CONFIRM
        if len(group) >= need and (len(group) > self.since or len(held) >= HELD_MAX):
            keep = {id(e) for e in group}
            for e in held:
                yield e if id(e) in keep else _outlier(e)
            self.anchor = max(self.anchor, max(e.ts for e in group))
            held.clear()
        elif final or len(held) >= HELD_MAX:
            yield from self.reject()

    def reject(self) -> Iterator[Item]:
        for e in self.held:
            yield _outlier(e)
        self.held.clear()


def plausible_times(items: Iterable[Item]) -> Iterator[Item]:
    """``items`` of one input with absurd event times turned into bad records.

    >>> def ev(ts, n):
    ...     return AccessEvent(ts, "s", None, "GET", "/", "", 200, None, None, "c", "", None,
    ...                        None, "f", n)
    >>> t = 1.9e9  # 2030: later than the clock of whoever reads this, which does not matter
    >>> out = list(plausible_times([ev(t + i, i) for i in range(40)] + [ev(4e9, 40)]
    ...                            + [ev(t + i, i) for i in range(41, 200)]))
    >>> [(r.offset, r.reason.split(":")[0]) for r in out if isinstance(r, BadRecord)]
    [(40, "timestamp far outside the input's time range")]
    >>> sum(isinstance(r, AccessEvent) for r in out)
    199
    """
    guard = _Guard()
    it = iter(items)
    head: list[Item] = []
    n = 0
    for item in it:
        if item.__class__ is BadRecord:
            yield item
            continue
        head.append(item)
        if item.__class__ is AccessEvent:
            n += 1
            if n >= HEAD:
                break
    yield from guard.head(head)
    held = guard.held
    for item in it:
        if item.__class__ is not AccessEvent:
            yield item
            continue
        ts = item[0]
        if ts <= guard.anchor + SLACK:
            if ts > guard.anchor:
                guard.anchor = ts
            yield item
            if held:
                guard.since += 1
                if guard.since >= DECIDE:
                    yield from guard.reject()
        else:
            yield from guard.hold(item)
    if held:
        yield from guard.decide(final=True)
