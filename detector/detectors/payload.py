"""attack_payload and unusual_payload: per-request findings grouped into incidents.

One SQLi campaign from one client is one client-keyed incident with a count
and samples; a distributed campaign (a few requests each from many clients)
is one route-keyed incident. A stray single finding is not an incident (it is
in `detector scan`), and decayed counts catch campaigns slower than a window.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from detector.config import DetectorSettings
from detector.detectors.base import FindingsWindow, Signal
from detector.events import AccessEvent
from detector.kinds import Kind
from detector.state.component import assign, fields, stamp, unstamp

if TYPE_CHECKING:  # the analyzer pulls in scikit-learn: only when analysis is on
    from detector.analysis.findings import Finding

DECAY = 0.7
MAX_TRACKED = 50_000
ROUTE_HORIZON = 5  # windows during which distinct clients of a route add up
HEAVY_CLIENT = 10  # findings (decayed) that make a client an incident of its own
# Findings that only say "a sensitive file was asked for" or "a scanner's user
# agent" are probing: evidence for the scanning detector, not an attack payload.
PROBE_TYPES = frozenset({"sensitive_file", "scanner"})
RESOURCE = "resource"  # the finding part of the resource model (analysis.resources)


def is_probe(f: Finding) -> bool:
    return bool(f.attack_types) and PROBE_TYPES.issuperset(f.attack_types)


def is_missing_resource(ev: AccessEvent, f: Finding) -> bool:
    """A request for a path the route never serves (``/src.bak``), answered 404, and
    nothing else unusual about it: probing for files, the scanning detector's evidence,
    not unusual request content."""
    return ev.status == 404 and bool(f.parts) and all(p == RESOURCE for p, _ in f.parts)


def _add(
    table: dict[tuple[str, Kind, str], _Agg],
    key: tuple[str, Kind, str],
    ev: AccessEvent,
    route: str,
    f: Finding,
) -> None:
    agg = table.get(key)
    if agg is None:
        agg = table[key] = _Agg()
    agg.count += 1
    agg.types.update(f.attack_types or ("unusual",))
    agg.routes[route] += 1
    agg.methods[ev.method] += 1
    agg.clients.add(ev.client)
    agg.reasons.update(f.reasons[:2])
    if len(agg.samples) < 3:
        agg.samples.append(ev)


class _Agg:
    __slots__ = ("count", "types", "routes", "methods", "clients", "samples", "reasons")

    def __init__(self) -> None:
        self.count = 0
        self.types: Counter[str] = Counter()
        self.routes: Counter[str] = Counter()
        self.methods: Counter[str] = Counter()
        self.clients: set[str] = set()
        self.samples: list[AccessEvent] = []
        self.reasons: Counter[str] = Counter()


class PayloadDetector:
    """Groups one window's findings by client and by route and raises signals.

    >>> from detector.analysis.findings import Finding
    >>> from detector.config import DetectorSettings
    >>> from detector.events import AccessEvent
    >>> det = PayloadDetector(DetectorSettings())
    >>> ev = AccessEvent(0.0, "shop", None, "GET", "/s", "q=1'or'1'='1", 200, None, None,
    ...                  "6.6.6.6", "sqlmap/1.7", None, None, "f", 1)
    >>> f = Finding("attack_payload", 0.9, ("sqli",), ("sqli-tautology",), ("r1",))
    >>> sigs = det.check_window([(ev, "/s", f)] * 3, 0.0, 60.0)
    >>> [(s.kind, s.client, s.observed) for s in sigs]
    [('attack_payload', '6.6.6.6', 3.0)]
    """

    kinds: tuple[Kind, ...] = ("attack_payload", "unusual_payload")

    def __init__(self, settings: DetectorSettings) -> None:
        self.s = settings
        # (service, kind, client) -> decayed finding count
        self._clients: dict[tuple[str, Kind, str], float] = {}
        # (service, kind, route) -> {client: windows left in the horizon}
        self._routes: dict[tuple[str, Kind, str], dict[str, int]] = {}

    def _min_client(self, kind: Kind) -> int:
        return (
            self.s.attack_min_client_findings
            if kind == "attack_payload"
            else self.s.unusual_min_client_findings
        )

    def check_window(
        self,
        findings: list[tuple[AccessEvent, str, Finding]],
        start: float,
        end: float,
        scanners: frozenset[tuple[str, str]] | set[tuple[str, str]] = frozenset(),
    ) -> list[Signal]:
        """The pipeline's step for one closed window: :meth:`check`, then :meth:`learn`."""
        x = FindingsWindow(start, end, findings, scanners)
        out = self.check(x)
        self.learn(x)
        return out

    def attackers(
        self, findings: list[tuple[AccessEvent, str, Finding]]
    ) -> set[tuple[str, str]]:
        """(service, client) of the clients attacking: attack findings in this window's
        ``findings`` or in the decayed memory of the windows before it.

        Their other requests belong to their attack campaign: an unusual payload of
        theirs here, their walk over a route's ids in the object enumeration detector.
        """
        out = {
            (ev.service, ev.client)
            for ev, _, f in findings
            if f.kind == "attack_payload" and not is_probe(f)
        }
        out.update((svc, c) for (svc, kind, c) in self._clients if kind == "attack_payload")
        return out

    def _attacked_routes(
        self, findings: list[tuple[AccessEvent, str, Finding]]
    ) -> set[tuple[str, str]]:
        """(service, route) under a distributed attack: attack findings from at least
        ``payload_min_route_clients`` clients over the route horizon, this window included.

        A botnet's requests that no signature recognises (a plain callback URL in an
        unknown parameter) are unusual findings from clients not yet seen attacking:
        on such a route they are the campaign's, not a second campaign.
        """
        if not any(f.kind == "unusual_payload" for _, _, f in findings):
            return set()
        seen: dict[tuple[str, str], set[str]] = {}
        for (service, kind, route), clients in self._routes.items():
            if kind == "attack_payload":
                seen[(service, route)] = set(clients)
        for ev, route, f in findings:
            if f.kind == "attack_payload" and not is_probe(f):
                seen.setdefault((ev.service, route), set()).add(ev.client)
        need = self.s.payload_min_route_clients
        return {key for key, clients in seen.items() if len(clients) >= need}

    def _group(
        self, x: FindingsWindow
    ) -> tuple[list[tuple[AccessEvent, str, Finding]], dict[tuple[str, Kind, str], _Agg]]:
        """The window's findings that count, and their aggregates per (service, kind, client).

        Findings of clients that are scanning belong to the scanning incident;
        unusual requests of a client that is attacking are part of its attack.
        """
        attackers = self.attackers(x.findings)
        attacked = self._attacked_routes(x.findings)
        scanners = x.scanners
        kept = [
            (ev, route, f)
            for ev, route, f in x.findings
            if (ev.service, ev.client) not in scanners
            and not is_probe(f)
            and not (f.kind == "unusual_payload" and (
                (ev.service, ev.client) in attackers or (ev.service, route) in attacked
                or is_missing_resource(ev, f)))
        ]
        by_client: dict[tuple[str, Kind, str], _Agg] = {}
        for ev, route, f in kept:
            _add(by_client, (ev.service, f.kind, ev.client), ev, route, f)
        return kept, by_client

    def _route_clients(
        self, by_client: dict[tuple[str, Kind, str], _Agg]
    ) -> dict[tuple[str, Kind, str], set[str]]:
        """Distinct clients over the horizon of every route this window touches, as
        :meth:`learn` leaves them (a route the full table refuses is left out)."""
        routes = self._routes
        room = MAX_TRACKED - len(routes)
        if room <= sum(len(agg.routes) for agg in by_client.values()):
            # Near the cap: count exactly the routes that survive this window's ageing.
            room = MAX_TRACKED - sum(1 for seen in routes.values() if max(seen.values()) > 1)
        after: dict[tuple[str, Kind, str], set[str]] = {}
        refused: set[tuple[str, Kind, str]] = set()
        for (service, kind, client), agg in by_client.items():
            for route in agg.routes:
                rkey = (service, kind, route)
                seen = after.get(rkey)
                if seen is None:
                    if rkey in refused:
                        continue
                    old = routes.get(rkey)
                    seen = {c for c, left in old.items() if left - 1 > 0} if old else set()
                    if not seen:  # a new route in the table
                        if room <= 0:
                            refused.add(rkey)
                            continue
                        room -= 1
                    after[rkey] = seen
                seen.add(client)
        return after

    def check(self, x: FindingsWindow) -> list[Signal]:
        """Signals for one window's findings, from the counts :meth:`learn` would keep."""
        kept, by_client = self._group(x)
        clients = self._clients
        totals: dict[tuple[str, Kind, str], float] = {}
        for key, agg in by_client.items():
            old = clients.get(key, 0.0) * DECAY
            totals[key] = (old if old >= 0.5 else 0.0) + agg.count
        route_clients = self._route_clients(by_client)
        need_route = self.s.payload_min_route_clients
        campaigns = {rkey for rkey, seen in route_clients.items() if len(seen) >= need_route}
        start, end = x.start, x.end
        out: list[Signal] = []
        heavy: set[tuple[str, Kind, str]] = set()
        for key in sorted(by_client):
            agg = by_client[key]
            service, kind, client = key
            need = self._min_client(kind)
            big = max(agg.count, totals[key]) >= HEAVY_CLIENT
            in_campaign = all((service, kind, r) in campaigns for r in agg.routes)
            if in_campaign and not big:
                continue  # one participant of a route campaign: reported with the route
            if agg.count >= need or totals[key] >= 1.5 * need:
                heavy.add(key)
                route = agg.routes.most_common(1)[0][0]
                out.append(self._signal(kind, service, route, None, client, agg, start, end))
        by_route: dict[tuple[str, Kind, str], _Agg] = {}
        for ev, route, f in kept:
            if (ev.service, f.kind, ev.client) in heavy:
                continue
            rkey = (ev.service, f.kind, route)
            if rkey in campaigns:
                _add(by_route, rkey, ev, route, f)
        for rkey in sorted(by_route):
            agg = by_route[rkey]
            method = agg.methods.most_common(1)[0][0] if len(agg.methods) == 1 else None
            out.append(
                self._signal(
                    rkey[1],
                    rkey[0],
                    rkey[2],
                    method,
                    None,
                    agg,
                    start,
                    end,
                    distinct_clients=len(route_clients[rkey]),
                )
            )
        return out

    def learn(self, x: FindingsWindow) -> None:
        """Age the memory by one window and add this window's findings to it."""
        _, by_client = self._group(x)
        clients = self._clients
        for key in list(clients):
            clients[key] *= DECAY
            if clients[key] < 0.5:
                del clients[key]
        for key, agg in by_client.items():
            total = clients.get(key, 0.0) + agg.count
            if key in clients or len(clients) < MAX_TRACKED:
                clients[key] = total
        # Distinct clients per route over the horizon: a campaign spread thin.
        routes = self._routes
        for rkey in list(routes):
            seen = routes[rkey]
            for c in list(seen):
                seen[c] -= 1
                if seen[c] <= 0:
                    del seen[c]
            if not seen:
                del routes[rkey]
        for (service, kind, client), agg in by_client.items():
            for route in agg.routes:
                rkey = (service, kind, route)
                known = routes.get(rkey)
                if known is None:
                    if len(routes) >= MAX_TRACKED:
                        continue
                    known = routes[rkey] = {}
                known[client] = ROUTE_HORIZON

    @staticmethod
    def _signal(
        kind: Kind,
        service: str,
        route: str | None,
        method: str | None,
        client: str | None,
        agg: _Agg,
        start: float,
        end: float,
        distinct_clients: int | None = None,
    ) -> Signal:
        extra: dict[str, Any] = {
            "attack_types": sorted(agg.types),
            "findings": agg.count,
            "top_reasons": [r for r, _ in agg.reasons.most_common(3)],
            "window_seconds": end - start,
        }
        if distinct_clients is not None:
            extra["distinct_clients"] = distinct_clients
        score = min(1.0, 0.5 + 0.05 * agg.count)
        return Signal(
            kind=kind,
            service=service,
            route=route,
            method=method,
            client=client,
            start=start,
            end=end,
            score=round(score, 4),
            observed=float(agg.count),
            baseline=0.0,
            requests=agg.count,
            p_value=0.0,
            extra=extra,
            samples=list(agg.samples),
        )

    # ---- state (detector.state.component) ----
    STATE_VERSION = 1
    _STATE = ("_clients", "_routes")

    def snapshot(self) -> dict[str, Any]:
        return stamp(self.STATE_VERSION, fields(self, self._STATE))

    def restore(self, data: Any) -> None:
        assign(self, unstamp(data, self.STATE_VERSION, {}, "payload"), self._STATE, "payload")
