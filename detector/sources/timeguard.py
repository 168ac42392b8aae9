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


class TimeGuard:
    """One input's check (see the module docstring), fed a list of items at a time.

    A list whose event times all lie within ``SLACK`` of the latest accepted time
    (nothing held) passes whole after one ``max``: judged one by one, every event in it
    would pass too, since the latest accepted time only grows. Any other list is judged
    item by item. The items handed out are those of :func:`plausible_times`, in order.

    >>> def ev(ts, n):
    ...     return AccessEvent(ts, "s", None, "GET", "/", "", 200, None, None, "c", "", None,
    ...                        None, "f", n)
    >>> g = TimeGuard()
    >>> first = g.feed([ev(1e9 + i, i) for i in range(20)])
    >>> chunk = [ev(1e9 + 20 + i, 20 + i) for i in range(10)]
    >>> len(first), g.feed(chunk) is chunk  # the head judged, then a chunk passed whole
    (20, True)
    >>> [r.offset for r in g.feed([ev(5e9, 30), ev(1e9 + 31, 31)]) + g.end()]  # 30: absurd
    [31, 30]
    """

    def __init__(self) -> None:
        self.anchor = -float("inf")  # latest accepted event time
        self.held: list[AccessEvent] = []
        self.since = 0  # accepted events since the first held one
        self._head: list[Item] | None = []  # the first HEAD events; None once judged
        self._n = 0  # access events in the head

    def feed(self, items: list[Item]) -> list[Item]:
        """The items of ``items`` that can be handed out now, in order (held ones later)."""
        if self._head is not None:
            out: list[Item] = []
            k = self._fill_head(items, out)
            if self._head is not None:
                return out
            out.extend(self._each(items[k:]))
            return out
        if not self.held:
            ae = AccessEvent
            times = [it[0] for it in items if it.__class__ is ae]
            if not times:
                return items
            top: float = max(times)
            if top <= self.anchor + SLACK:
                if top > self.anchor:
                    self.anchor = top
                return items
        return self._each(items)

    def end(self) -> list[Item]:
        """What is still held at the end of the input, released or rejected."""
        out: list[Item] = []
        if self._head is not None:
            out.extend(self._judge_head(self._head))
            self._head = None
        if self.held:
            out.extend(self.decide(final=True))
        return out

    def _fill_head(self, items: list[Item], out: list[Item]) -> int:
        """Collect the head from ``items`` (bad records go straight to ``out``); once it
        has HEAD events, judge it into ``out``. Returns how many items were taken."""
        head = self._head
        assert head is not None
        for k, item in enumerate(items):
            cls = item.__class__
            if cls is BadRecord:
                out.append(item)
                continue
            head.append(item)
            if cls is AccessEvent:
                self._n += 1
                if self._n >= HEAD:
                    out.extend(self._judge_head(head))
                    self._head = None
                    return k + 1
        return len(items)

    def _judge_head(self, items: list[Item]) -> list[Item]:
        """The head, anchored on its median."""
        events = [e for e in items if e.__class__ is AccessEvent]
        mid = _median(events) if len(events) >= END_CONFIRM else None
        out: list[Item] = []
        for it in items:
            if it.__class__ is AccessEvent:
                ts = it[0]
                if mid is not None and abs(ts - mid) > SLACK:
                    out.append(_outlier(it))
                    continue
                if ts > self.anchor:
                    self.anchor = ts
            out.append(it)
        return out

    def _each(self, items: list[Item]) -> list[Item]:
        """``items`` after the head, judged one by one."""
        out: list[Item] = []
        held = self.held
        for item in items:
            if item.__class__ is not AccessEvent:
                out.append(item)
                continue
            ts: float = item[0]
            if ts <= self.anchor + SLACK:
                if ts > self.anchor:
                    self.anchor = ts
                out.append(item)
                if held:
                    self.since += 1
                    if self.since >= DECIDE:
                        out.extend(self.reject())
            else:
                out.extend(self.hold(item))
        return out

    def hold(self, ev: AccessEvent) -> list[Item]:
        """Hold ``ev``, a jump ahead; every CONFIRM of them, see if the jump is real."""
        held = self.held
        if not held:
            self.since = 0
        held.append(ev)
        if len(held) % CONFIRM == 0 or len(held) >= HELD_MAX:
            return self.decide(final=False)
        return []

    def decide(self, final: bool) -> list[Item]:
        """Release the held events that agree as a gap in the logs, or reject them."""
        held = self.held
        group = _agreeing(held)
        need = END_CONFIRM if final else CONFIRM
        if len(group) >= need and (len(group) > self.since or len(held) >= HELD_MAX):
            keep = {id(e) for e in group}
            out: list[Item] = [e if id(e) in keep else _outlier(e) for e in held]
            self.anchor = max(self.anchor, max(e.ts for e in group))
            held.clear()
            return out
        if final or len(held) >= HELD_MAX:
            return self.reject()
        return []

    def reject(self) -> list[Item]:
        out: list[Item] = [_outlier(e) for e in self.held]
        self.held.clear()
        return out


def plausible_chunks(chunks: Iterable[list[Item]]) -> Iterator[list[Item]]:
    """:func:`plausible_times` over an input given as lists of items (no empty list out)."""
    guard = TimeGuard()
    for chunk in chunks:
        out = guard.feed(chunk)
        if out:
            yield out
    out = guard.end()
    if out:
        yield out


def plausible_times(items: Iterable[Item]) -> Iterator[Item]:
    """``items`` of one input with absurd event times turned into bad records, each
    handed out as soon as it is judged (a pipe's lines, as they arrive).

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
    guard = TimeGuard()
    feed = guard.feed
    for item in items:
        yield from feed([item])
    yield from guard.end()
