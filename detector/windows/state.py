"""Tumbling event-time windows: the open windows, the watermark and what is closed.

A window index is ``ts // size`` (a float, as the hot path computes it). A
window closes once the watermark (latest event time minus the allowed
lateness) passes its end; events for closed windows are late.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from detector.state.component import assign, fields, stamp, unstamp
from detector.state.snapshot import SnapshotError
from detector.windows.stats import pad_client, pad_series

if TYPE_CHECKING:
    from detector.events import AccessEvent

MAX_EMPTY_WINDOWS = 1440  # a longer silence (a day of windows) is skipped, not walked

# One open window: series stats by series id (layout: windows.stats), client
# stats by (service, client) (layout: windows.stats C_*), and the requests
# waiting for analysis with their series id.
Window = tuple[dict[int, list[Any]], dict[tuple[str, str], list[Any]],
               list[tuple["AccessEvent", int]]]


class WindowState:
    """Open windows and the event-time clock of one pipeline.

    >>> ws = WindowState(60.0, 30.0)
    >>> ws.open_window(2.0)[0][7] = [1, 0, 0, 0, 0, 0, [], [], [], 150.0]
    >>> ws.max_ts = 200.0  # watermark 170: window 2 ([120, 180)) is not due yet
    >>> list(ws.due())
    []
    >>> ws.max_ts = 215.0
    >>> [(w, len(win[0]), last) for w, win, last in ws.due()], ws.closed_upto, ws.open
    ([(2, 1, False)], 3, {})
    """

    def __init__(self, size: float, lateness: float) -> None:
        self.size = size
        self.lateness = lateness
        self.open: dict[float, Window] = {}
        self.closed_upto: float = -math.inf  # windows with a smaller index are closed
        self.min_open: float = math.inf
        self.next_close: float = math.inf  # max event time at which the oldest window closes
        self.max_ts: float = -math.inf
        self.first_ts: float = math.inf
        self.last_version: dict[str, str] = {}  # per service, the version last seen in traffic

    def watermark(self) -> float:
        return self.max_ts - self.lateness

    def open_window(self, widx: float) -> Window:
        """A new open window (the caller checked that it is neither open nor closed)."""
        w: Window = ({}, {}, [])
        self.open[widx] = w
        if widx < self.min_open:
            self.min_open = widx
            self.next_close = (widx + 1) * self.size + self.lateness
        return w

    def due(self, final: bool = False) -> Iterator[tuple[int, Window, bool]]:
        """Yield ``(index, window, is_last)`` for every window due to close, empty ones
        included, oldest first; a long silence is skipped. At the end of input (``final``)
        all of them, and ``is_last`` marks the last, partial one."""
        if final:
            last = max(self.open) if self.open else -1
        else:
            last = math.floor(self.watermark() / self.size) - 1
        start = self.closed_upto if self.closed_upto != -math.inf else self.min_open
        if start == math.inf or last < start:
            return
        w: float = int(start)
        keys = sorted(k for k in self.open if k <= last)
        ki = 0
        while w <= last:
            while ki < len(keys) and keys[ki] < w:
                ki += 1
            nxt = keys[ki] if ki < len(keys) else last + 1
            if nxt - w > MAX_EMPTY_WINDOWS:
                w = int(nxt) if ki < len(keys) else last + 1  # skip a long silence
                continue
            yield int(w), self.open.pop(w, ({}, {}, [])), final and w == last
            w += 1
        self.closed_upto = last + 1
        self.min_open = min(self.open) if self.open else math.inf
        self.next_close = (self.min_open + 1) * self.size + self.lateness if self.open else math.inf

    # ---- state (detector.state.component) ----
    STATE_VERSION = 1
    _STATE = ("open", "closed_upto", "min_open", "next_close", "max_ts", "first_ts",
              "last_version")

    def snapshot(self) -> dict[str, Any]:
        return stamp(self.STATE_VERSION, fields(self, self._STATE))

    def restore(self, data: Any) -> None:
        what = "windows"
        assign(self, unstamp(data, self.STATE_VERSION, {}, what), self._STATE, what)
        for series, clients, _pending in self.open.values():  # older layouts grow
            for st in series.values():
                pad_series(st)
            for cs in clients.values():
                pad_client(cs)


class ServiceStarts:
    """Per service, the time of its first event: its partial first window is judged on
    its own traffic (the coverage of a window), not on the pipeline's first event.

    >>> s = ServiceStarts()
    >>> s.seen("shop", 65.0); s.seen("shop", 99.0)
    >>> s.coverage("shop", 60.0, 60.0, 0.0), s.coverage("pay", 60.0, 60.0, 10.0)
    (0.9166666666666666, 1.0)
    """

    def __init__(self) -> None:
        self.first: dict[str, float] = {}

    def seen(self, service: str, ts: float) -> None:
        if service not in self.first:
            self.first[service] = ts

    def coverage(self, service: str, start: float, size: float, default: float) -> float:
        """Share of the window from ``start`` the service's traffic can span (from its first
        event on; ``default`` for a service not seen)."""
        first = self.first.get(service, default)
        return max(0.0, (start + size - first) / size) if first > start else 1.0

    # ---- state (detector.state.component) ----
    STATE_VERSION = 1

    def snapshot(self) -> dict[str, Any]:
        return stamp(self.STATE_VERSION, self.first)

    def restore(self, data: Any) -> None:
        first = unstamp(data, self.STATE_VERSION, {}, "svc_first")
        if not isinstance(first, dict):
            raise SnapshotError("svc_first: not a mapping")
        self.first = first

