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
from detector.detectors.base import Signal
from detector.events import AccessEvent

if TYPE_CHECKING:  # the analyzer pulls in scikit-learn: only when analysis is on
    from detector.analysis.analyzer import Finding

DECAY = 0.7
MAX_TRACKED = 50_000
ROUTE_HORIZON = 5  # windows during which distinct clients of a route add up


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

    >>> from detector.analysis.analyzer import Finding
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

    kinds: tuple[str, ...] = ("attack_payload", "unusual_payload")

    def __init__(self, settings: DetectorSettings) -> None:
        self.s = settings
        # (service, kind, client) -> decayed finding count
        self._clients: dict[tuple[str, str, str], float] = {}
        # (service, kind, route) -> {client: windows left in the horizon}
        self._routes: dict[tuple[str, str, str], dict[str, int]] = {}

    def _min_client(self, kind: str) -> int:
        return (
            self.s.attack_min_client_findings
            if kind == "attack_payload"
            else self.s.unusual_min_client_findings
        )

    def check_window(
        self, findings: list[tuple[AccessEvent, str, Finding]], start: float, end: float
    ) -> list[Signal]:
        by_client: dict[tuple[str, str, str], _Agg] = {}
        by_route: dict[tuple[str, str, str], _Agg] = {}
        for ev, route, f in findings:
            for table, key in (
                (by_client, (ev.service, f.kind, ev.client)),
                (by_route, (ev.service, f.kind, route)),
            ):
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
        out: list[Signal] = []
        clients = self._clients
        for key in list(clients):
            clients[key] *= DECAY
            if clients[key] < 0.5:
                del clients[key]
        flagged_clients: set[tuple[str, str, str]] = set()
        for key in sorted(by_client):
            agg = by_client[key]
            total = clients.get(key, 0.0) + agg.count
            if key in clients or len(clients) < MAX_TRACKED:
                clients[key] = total
            need = self._min_client(key[1])
            if agg.count >= need or total >= 1.5 * need:
                flagged_clients.add(key)
                route = agg.routes.most_common(1)[0][0]
                out.append(self._signal(key[1], key[0], route, None, key[2], agg, start, end))
        routes = self._routes
        for key in list(routes):
            seen = routes[key]
            for c in list(seen):
                seen[c] -= 1
                if seen[c] <= 0:
                    del seen[c]
            if not seen:
                del routes[key]
        for key in sorted(by_route):
            agg = by_route[key]
            # Clients already raised on their own do not make a route campaign.
            others = {c for c in agg.clients if (key[0], key[1], c) not in flagged_clients}
            if not others:
                continue
            known = routes.get(key)
            if known is None:
                if len(routes) >= MAX_TRACKED:
                    continue
                known = routes[key] = {}
            seen = known
            for c in others:
                seen[c] = ROUTE_HORIZON
            if len(seen) >= self.s.payload_min_route_clients:
                method = agg.methods.most_common(1)[0][0] if len(agg.methods) == 1 else None
                out.append(
                    self._signal(
                        key[1],
                        key[0],
                        key[2],
                        method,
                        None,
                        agg,
                        start,
                        end,
                        distinct_clients=len(seen),
                    )
                )
        return out

    @staticmethod
    def _signal(
        kind: str,
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
            kind,
            service,
            route,
            method,
            client,
            start,
            end,
            round(score, 4),
            float(agg.count),
            0.0,
            agg.count,
            0.0,
            extra,
            list(agg.samples),
        )

    def state(
        self,
    ) -> tuple[dict[tuple[str, str, str], float], dict[tuple[str, str, str], dict[str, int]]]:
        return self._clients, self._routes

    def restore(
        self,
        st: tuple[dict[tuple[str, str, str], float], dict[tuple[str, str, str], dict[str, int]]],
    ) -> None:
        self._clients, self._routes = st
