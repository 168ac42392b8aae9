"""What a report draws, gathered while the logs replay.

:class:`ReportCollector` is a pipeline observer (``Pipeline.observers``): each closed
window becomes one :class:`Window` per service and per watched route (those an incident
names), and a running total per route. Per-request work stays out of the hot path; only
:class:`ClientTally`, which the replay's ``select`` hook runs over the input, touches
each event, to count requests per client in bounded memory.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, NamedTuple

from detector.events import AccessEvent
from detector.verdict.collect import Agg, WindowView, route_aggregates
from detector.windows.stats import sparse_quantile

if TYPE_CHECKING:
    from detector.events import Item
    from detector.incidents.model import Incident


class Window(NamedTuple):
    """One window of one service (or route): counts and latency quantiles.

    ``requests`` counts every request, those request analysis flagged included (``flagged``);
    ``err4`` the 4xx answers other than 401/403 (``auth``) and 404 (``nf``).
    """

    start: float
    requests: int
    err5: int
    err4: int
    auth: int
    nf: int
    flagged: int
    p50: float | None
    p95: float | None


class RouteTotal:
    """A route's requests over the whole replay.

    >>> t = RouteTotal(); t.count, t.err5
    (0, 0)
    """

    __slots__ = ("count", "err4", "err5", "flagged")

    def __init__(self) -> None:
        self.count = 0
        self.err5 = 0
        self.err4 = 0  # every 4xx
        self.flagged = 0


def _window(start: float, parts: Iterable[Agg]) -> Window:
    total = Agg()
    for a in parts:
        total.add(a)
    return Window(start, total.requests(), total.err5, total.err4, total.auth, total.nf,
                  total.attack + total.unusual, sparse_quantile(total.hist, 0.5),
                  sparse_quantile(total.hist, 0.95))


class ReportCollector:
    """Per-window series of each service and of the watched routes, route totals, and
    the incidents the replay raised (latest state per id).

    A day of every route's windows would weigh far more than the few an incident chart
    needs, so a route's whole series is kept only when it is watched: named in
    ``watch`` (``(service, "METHOD /route")``, the routes of incidents given as input)
    or by an incident the replay raises. Other routes keep their last ``history``
    windows, which a route raising an incident takes along: its chart then starts
    that far before the incident.

    >>> c = ReportCollector(watch={("pay", "GET /r")})
    >>> c.services, c.incidents
    ({}, {})
    """

    def __init__(self, watch: Iterable[tuple[str, str]] = (), history: int = 180) -> None:
        self.watch = set(watch)
        self.history = history
        self.services: dict[str, list[Window]] = {}
        self.routes: dict[tuple[str, str], list[Window]] = {}
        self.recent: dict[tuple[str, str], deque[Window]] = {}
        self.totals: dict[tuple[str, str], RouteTotal] = {}
        self.incidents: dict[str, Incident] = {}

    def window_closed(self, view: WindowView) -> None:
        for service, routes in route_aggregates(view, None).items():
            every: list[Agg] = []
            for rk, versions in routes.items():
                parts = list(versions.values())
                every.extend(parts)
                total = self.totals.get((service, rk))
                if total is None:
                    total = self.totals[(service, rk)] = RouteTotal()
                for a in parts:
                    total.count += a.requests()
                    total.err5 += a.err5
                    total.err4 += a.err4 + a.auth + a.nf
                    total.flagged += a.attack + a.unusual
                w = _window(view.start, parts)
                if (service, rk) in self.watch:
                    _append(self.routes.setdefault((service, rk), []), w)
                else:
                    recent = self.recent.get((service, rk))
                    if recent is None:
                        recent = self.recent[(service, rk)] = deque(maxlen=self.history)
                    recent.append(w)
            _append(self.services.setdefault(service, []), _window(view.start, every))

    def incident(self, incident: Incident) -> None:
        self.incidents[incident.id] = incident
        if incident.route is None or incident.method is None:
            return
        key = (incident.service, f"{incident.method} {incident.route}")
        if key not in self.watch:
            self.watch.add(key)
            self.routes[key] = list(self.recent.pop(key, ()))


def _append(series: list[Window], w: Window) -> None:
    """Add a window; one closed twice (a service's partial window, then the rest) is
    summed, its quantiles the larger side's (an approximation for a rare case)."""
    if series and series[-1].start == w.start:
        old = series[-1]
        big = old if old.requests >= w.requests else w
        series[-1] = Window(w.start, old.requests + w.requests, old.err5 + w.err5,
                            old.err4 + w.err4, old.auth + w.auth, old.nf + w.nf,
                            old.flagged + w.flagged, big.p50, big.p95)
    else:
        series.append(w)


class ClientTally:
    """Requests and error answers per client, in bounded memory.

    Past ``2 * capacity`` clients the smallest are dropped down to ``capacity`` (a
    client dropped and seen again restarts from zero), so the heavy clients a report
    lists are counted exactly and a flood of one-request addresses costs nothing.

    >>> from detector.events import AccessEvent
    >>> t = ClientTally(capacity=2)
    >>> evs = [AccessEvent(float(i), "s", None, "GET", "/", "", 404 if i % 2 else 200,
    ...        None, None, f"10.0.0.{i % 3}", "ua", None, None, "f", i) for i in range(9)]
    >>> _ = list(t.watch(evs))
    >>> t.top(2)
    [('10.0.0.0', 3, 1, 0), ('10.0.0.1', 3, 2, 0)]
    """

    def __init__(self, capacity: int = 5000) -> None:
        self.capacity = capacity
        self.counts: dict[str, list[int]] = {}  # client: [requests, 4xx, 5xx]

    def watch(self, items: Iterable[Item]) -> Iterator[Item]:
        counts = self.counts
        limit = 2 * self.capacity
        for item in items:
            if type(item) is AccessEvent:
                c = counts.get(item.client)
                if c is None:
                    if len(counts) >= limit:
                        self._prune()
                    c = counts[item.client] = [0, 0, 0]
                c[0] += 1
                status = item.status
                if status is not None and status >= 400:
                    c[1 if status < 500 else 2] += 1
            yield item

    def _prune(self) -> None:
        keep = sorted(self.counts.items(), key=lambda kv: -kv[1][0])[: self.capacity]
        self.counts.clear()  # in place: watch() holds a reference
        self.counts.update(keep)

    def top(self, n: int) -> list[tuple[str, int, int, int]]:
        """The ``n`` busiest clients: (client, requests, 4xx, 5xx), busiest first."""
        ranked = sorted(self.counts.items(), key=lambda kv: (-kv[1][0], kv[0]))[:n]
        return [(client, c[0], c[1], c[2]) for client, c in ranked]
