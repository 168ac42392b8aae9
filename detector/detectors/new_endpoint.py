"""new_endpoint: a route never seen while learning starts serving traffic."""

from __future__ import annotations

import re
from typing import Any

from detector.config import DetectorSettings
from detector.detectors.base import EndpointWindow, SeriesKey, Signal
from detector.detectors.sensitive_routes import sensitive_reason
from detector.events import AccessEvent
from detector.kinds import Kind
from detector.state.component import assign, fields, stamp, unstamp

# A watch entry, one list per watched series (plain data for snapshots):
# born window, successful requests, requests, raised (always 0: a raised series is let
# go), then, from schema 2 on, the birth time and the service's latest deploy then (both
# None until the series' first window is seen), why the route looks sensitive (None for
# an ordinary route), and the distinct clients answered 2xx (at most CLIENTS_CAP).
BORN, OK, TOTAL, RAISED, BORN_TS, DEPLOY, REASON, CLIENTS = range(8)
CLIENTS_CAP = 32


def _pattern(route: str) -> re.Pattern[str]:
    # A placeholder in the new route may stand for any literal segment of an old one.
    parts = [re.escape(p) for p in route.split("{id}")]
    return re.compile("[^/]+".join(parts) + r"\Z")


def _upgrade_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 -> 2: watch entries gain birth, deploy, sensitivity and clients."""
    watch = {k: [*w, None, None, sensitive_reason(k.route), set()]
             for k, w in data["watch"].items()}
    return {**data, "watch": watch}


class NewEndpointDetector:
    """Series born after a service's learning period that answer successfully.

    Not new: series born while the service was still being learned, probes that
    only fail (404 floods are scanning), rarely used old routes (too few
    requests), and generalisations of known routes (a learned collapse turns
    ``/items/red`` into ``/items/{id}``: same traffic, new template).

    A route that looks internal or sensitive (:func:`sensitive_reason`:
    ``/internal/``, ``/admin``, ``export``...) and was born soon after a deploy
    (which shipped it, rather than a client stumbling on it) is watched for
    hours rather than minutes and needs only a few successful requests from a
    few distinct clients: internal tools answer a handful of callers.

    >>> from detector.config import DetectorSettings
    >>> det = NewEndpointDetector(DetectorSettings(new_endpoint_learning_windows=5))
    >>> det.service_seen("pay", 0)
    >>> key = SeriesKey("pay", "GET", "/v2/disputes/{id}")
    >>> det.series_born(key, 10, [])
    >>> sig = det.on_window(key, 10, 600.0, 660.0, 30, 30, [])
    >>> sig.kind, sig.route
    ('new_endpoint', '/v2/disputes/{id}')
    """

    kinds: tuple[Kind, ...] = ("new_endpoint",)
    WATCH_WINDOWS = 15  # a new route must reach its volume within this many windows
    # A sensitive-looking route: watched this long, raised at this floor.
    SENSITIVE_WATCH_SECONDS = 3 * 3600.0
    SENSITIVE_MIN_OK = 3
    SENSITIVE_MIN_CLIENTS = 2
    # Born this soon after the service's latest deploy, the route was shipped by it
    # (the incident manager's suspect window). Without such a deploy, a sensitive route
    # keeps the ordinary rules: a rarely used old route first seen late (a data export
    # a few users ask for a day) looks the same for hours.
    DEPLOY_RECENT_SECONDS = 1800.0

    def __init__(self, settings: DetectorSettings) -> None:
        self.s = settings
        self.first_window: dict[str, int] = {}  # service -> first window index seen
        self.known: set[SeriesKey] = set()  # routes known from a trained model, if any
        # Series under watch: key -> entry (layout: BORN .. CLIENTS above)
        self.watch: dict[SeriesKey, list[Any]] = {}

    def service_seen(self, service: str, widx: int) -> None:
        """Learn when a service was first seen (its learning period starts there)."""
        self.first_window.setdefault(service, widx)

    def series_born(self, key: SeriesKey, widx: int, existing: list[SeriesKey]) -> None:
        """Learn a new series of the service: watched when born after the learning period."""
        first = self.first_window.get(key.service, widx)
        if widx < first + self.s.new_endpoint_learning_windows or key in self.known:
            return
        if "{id}" in key.route:
            pat = _pattern(key.route)
            if any(o.method == key.method and pat.match(o.route) for o in existing):
                return
        self.watch[key] = [widx, 0, 0, 0, None, None, sensitive_reason(key.route), set()]

    def on_window(
        self,
        key: SeriesKey,
        widx: int,
        start: float,
        end: float,
        requests: int,
        successes: int,
        samples: list[AccessEvent],
        deploy: float | None = None,
    ) -> Signal | None:
        """The pipeline's step for one series' closed window: :meth:`check`, then :meth:`learn`."""
        x = EndpointWindow(key, widx, start, end, requests, successes, samples, deploy)
        out = self.check(x)
        self.learn(x)
        return out[0] if out else None

    def _watched(self, x: EndpointWindow) -> list[Any] | None:
        """The watch entry of the window's series, None when not (or no longer) watched."""
        w = self.watch.get(x.key)
        if w is None:
            return None
        limit = float(self.WATCH_WINDOWS)
        if self._low_floor(w, x):
            limit = max(limit, self.SENSITIVE_WATCH_SECONDS / max(x.end - x.start, 1.0))
        return None if x.widx - w[BORN] >= limit else w

    @staticmethod
    def _birth(w: list[Any], x: EndpointWindow) -> tuple[float, float | None]:
        """When the series was born, and the service's latest deploy at that time."""
        if w[BORN_TS] is not None:
            return w[BORN_TS], w[DEPLOY]
        first = min((e.ts for e in x.samples), default=x.start)
        return max(x.start, first), x.deploy

    @staticmethod
    def _clients(w: list[Any], x: EndpointWindow) -> set[str]:
        # The window's samples (its first requests) name the clients: a lower bound,
        # exact at the volume where clients matter (a request or two a window).
        new = {e.client for e in x.samples if e.status is not None and 200 <= e.status < 300}
        seen: set[str] = w[CLIENTS]
        return seen | new if new else seen

    def _low_floor(self, w: list[Any], x: EndpointWindow) -> bool:
        """Whether the series may be raised at the sensitive floor: it looks sensitive
        and was born soon after a deploy."""
        if w[REASON] is None:
            return False
        born, deploy = self._birth(w, x)
        return deploy is not None and born - deploy <= self.DEPLOY_RECENT_SECONDS

    def _raises(self, w: list[Any], x: EndpointWindow) -> bool:
        ok, total = w[OK] + x.successes, w[TOTAL] + x.requests
        if w[RAISED] or ok < 0.8 * total:
            return False
        if ok >= self.s.new_endpoint_min_requests and x.widx - w[BORN] < self.WATCH_WINDOWS:
            return True
        return (ok >= self.SENSITIVE_MIN_OK and self._low_floor(w, x)
                and len(self._clients(w, x)) >= self.SENSITIVE_MIN_CLIENTS)

    def check(self, x: EndpointWindow) -> list[Signal]:
        """A signal once a watched series has served enough requests, mostly successfully."""
        w = self._watched(x)
        if w is None or not self._raises(w, x):
            return []
        key = x.key
        ok, total = w[OK] + x.successes, w[TOTAL] + x.requests
        born, deploy = self._birth(w, x)
        extra: dict[str, Any] = {"successful_requests": ok, "window_seconds": x.end - x.start,
                                 "distinct_clients": len(self._clients(w, x)),
                                 "watched_seconds": x.end - born}
        if w[REASON] is not None:
            extra["sensitive"] = w[REASON]
        if deploy is not None:
            extra["seconds_since_deploy"] = max(0.0, born - deploy)
        return [
            Signal(
                kind="new_endpoint",
                service=key.service,
                route=key.route,
                method=key.method,
                client=None,
                # From the first request: a deploy is judged against when the route appeared.
                start=born,
                end=x.end,
                score=0.9,
                observed=float(ok),
                baseline=0.0,
                requests=total,
                p_value=0.0,
                extra=extra,
                samples=x.samples,
            )
        ]

    def learn(self, x: EndpointWindow) -> None:
        """Count the window towards its watched series; a series raised or too old is let go."""
        w = self.watch.get(x.key)
        if w is None:
            return
        if self._watched(x) is None:
            del self.watch[x.key]
            return
        if self._raises(w, x):
            del self.watch[x.key]
            return
        if w[BORN_TS] is None:
            w[BORN_TS], w[DEPLOY] = self._birth(w, x)
        w[OK] += x.successes
        w[TOTAL] += x.requests
        clients = w[CLIENTS]
        for e in x.samples:
            if len(clients) >= CLIENTS_CAP:
                break
            if e.status is not None and 200 <= e.status < 300:
                clients.add(e.client)

    # ---- state (detector.state.component) ----
    STATE_VERSION = 2
    _STATE = ("first_window", "watch", "known")
    MIGRATIONS = {1: _upgrade_v1}

    def snapshot(self) -> dict[str, Any]:
        return stamp(self.STATE_VERSION, fields(self, self._STATE))

    def restore(self, data: Any) -> None:
        what = "new_endpoint"
        assign(self, unstamp(data, self.STATE_VERSION, self.MIGRATIONS, what), self._STATE, what)
