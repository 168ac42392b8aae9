"""Status surges a campaign causes: the routes' answers to the campaign's own requests.

A payload campaign (a fuzzer's odd encodings, a new app version's malformed
bodies, an injection run) is answered 400, 422 or 500 by the route it targets,
and credential stuffing meets the route's rate limiting (429). On a quiet route
those answers lift the 4xx or 5xx share past its baseline: a
``client_error_surge`` or ``error_surge`` that is the campaign seen from the
status codes, a second page for one event. This step, run with the campaign
fold after every detector, drops such a route-keyed surge while its route holds
a campaign:

* a payload campaign (an ``attack_payload`` or ``unusual_payload`` signal of
  the route, client- or route-keyed) in this window or the :data:`HOLD` windows
  before it: its 4xx and 5xx surges;
* an authentication campaign (an ``auth_failure_burst`` signal of the route) in
  the same span: its 4xx surge, when the route's 401/403 answers in the window
  outnumber the surge's hits (a lockout's 429s come with many more failures; a
  deploy that rejects a third of all requests does not hide behind a few).

A surge on a route without a campaign, or on another route, is left alone.
"""

from __future__ import annotations

from detector.detectors.base import Signal
from detector.kinds import Kind

HOLD = 10  # windows a campaign's route keeps explaining its status surges
MAX_ROUTES = 20_000  # routes remembered at once
PAYLOAD_KINDS: frozenset[Kind] = frozenset({"attack_payload", "unusual_payload"})
AUTH_KIND: Kind = "auth_failure_burst"
# What each campaign explains: payload campaigns are answered with 4xx and 5xx,
# authentication campaigns with 429s (other 4xx) besides their own 401/403.
ECHOES: dict[str, frozenset[Kind]] = {
    "payload": frozenset({"client_error_surge", "error_surge"}),
    "auth": frozenset({"client_error_surge"}),
}

RouteKey = tuple[str, str]  # service, route


def _origins(signals: list[Signal]) -> dict[RouteKey, set[str]]:
    """{(service, route): campaign origins ("payload", "auth")} of one window's signals."""
    out: dict[RouteKey, set[str]] = {}
    for s in signals:
        if not s.route:
            continue
        if s.kind in PAYLOAD_KINDS:
            out.setdefault((s.service, s.route), set()).add("payload")
        elif s.kind == AUTH_KIND:
            out.setdefault((s.service, s.route), set()).add("auth")
    return out


class StatusEchoes:
    """Drops the 4xx/5xx surges of routes under a payload or authentication campaign.

    >>> def sig(kind, route, client=None, hits=3):
    ...     return Signal(kind=kind, service="shop", route=route, method="POST",
    ...         client=client, start=0.0, end=60.0, score=0.9, observed=0.3, baseline=0.01,
    ...         requests=40, p_value=1e-9, extra={"hits": hits}, samples=[])
    >>> echoes = StatusEchoes()
    >>> window = [sig("unusual_payload", "/reviews", client="10.0.0.7"),
    ...           sig("client_error_surge", "/reviews"), sig("client_error_surge", "/cart")]
    >>> [(s.kind, s.route) for s in echoes.drop(window, 0.0, 60.0, {})]
    [('unusual_payload', '/reviews'), ('client_error_surge', '/cart')]
    """

    def __init__(self) -> None:
        # (service, route) -> {origin: end of the last window it had a campaign signal}
        self._recent: dict[RouteKey, dict[str, float]] = {}

    def _explained(self, key: RouteKey, now: dict[RouteKey, set[str]], end: float,
                   size: float) -> set[str]:
        found = set(now.get(key, ()))
        for origin, last in self._recent.get(key, {}).items():
            if end - last <= HOLD * size:
                found.add(origin)
        return found

    def drop(self, signals: list[Signal], start: float, end: float,
             routes: dict[RouteKey, tuple[int, int]]) -> list[Signal]:
        """``signals`` without the status surges a campaign on their route explains.

        ``routes`` maps (service, route) to the window's (requests, 401/403 answers).
        Pure: :meth:`remember` is the only change of state.
        """
        now = _origins(signals)
        if not now and not self._recent:
            return signals
        size = end - start
        out: list[Signal] = []
        for s in signals:
            if s.client is None and s.route and s.kind in ECHOES["payload"]:
                key = (s.service, s.route)
                origins = self._explained(key, now, end, size)
                if "payload" in origins:
                    continue
                if "auth" in origins and s.kind in ECHOES["auth"]:
                    hits = s.extra.get("hits")
                    denied = routes.get(key, (0, 0))[1]
                    if isinstance(hits, int) and denied > hits:
                        continue
            out.append(s)
        return out

    def remember(self, signals: list[Signal], start: float, end: float) -> None:
        """Note the routes with a campaign signal in this window; forget the old ones."""
        size = end - start
        recent = self._recent
        for key in list(recent):
            kept = {o: t for o, t in recent[key].items() if end - t <= HOLD * size}
            if kept:
                recent[key] = kept
            else:
                del recent[key]
        for key, origins in _origins(signals).items():
            held = recent.get(key)
            if held is None:
                if len(recent) >= MAX_ROUTES:
                    continue
                held = recent[key] = {}
            for origin in origins:
                held[origin] = end

    def snapshot(self) -> dict[RouteKey, dict[str, float]]:
        return self._recent

    def restore(self, data: dict[RouteKey, dict[str, float]]) -> None:
        self._recent = data
