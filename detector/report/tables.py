"""The report's tables: the routes and clients an on-call engineer looks at first."""

from __future__ import annotations

from typing import NamedTuple

from detector.report.data import ReportData, route_key


class RouteRow(NamedTuple):
    """One route of the top-routes table (``requests`` None: known from incidents only)."""

    service: str
    route: str
    requests: int | None
    err5: int
    err4: int
    flagged: int
    incidents: list[str]


class ClientRow(NamedTuple):
    """One client of the top-clients table (``requests`` None: not among the counted)."""

    client: str
    requests: int | None
    err4: int
    err5: int
    incidents: list[str]


def top_routes(data: ReportData, n: int = 20) -> list[RouteRow]:
    """Routes with incidents first (most incidents first), then the busiest."""
    named: dict[tuple[str, str], list[str]] = {}
    for inc in data.incidents:
        rk = route_key(inc)
        if rk is not None:
            named.setdefault((inc.service, rk), []).append(inc.id)
    rows = []
    for key in set(data.totals) | set(named):
        t = data.totals.get(key)
        rows.append(RouteRow(key[0], key[1], t.count if t else None, t.err5 if t else 0,
                             t.err4 if t else 0, t.flagged if t else 0, named.get(key, [])))
    rows.sort(key=lambda r: (-len(r.incidents), -(r.requests or 0), r.service, r.route))
    return rows[:n]


def top_clients(data: ReportData, n: int = 15) -> list[ClientRow]:
    """The busiest clients counted in the logs, then every client an incident names."""
    named: dict[str, list[str]] = {}
    for inc in data.incidents:
        if inc.client is not None:
            named.setdefault(inc.client, []).append(inc.id)
    rows = [ClientRow(c, req, e4, e5, named.pop(c, [])) for c, req, e4, e5 in data.clients[:n]]
    counted = {c: (req, e4, e5) for c, req, e4, e5 in data.clients}
    for client in sorted(named, key=lambda c: (-len(named[c]), c)):
        req, e4, e5 = counted.get(client, (None, 0, 0))
        rows.append(ClientRow(client, req, e4, e5, named[client]))
    return rows
