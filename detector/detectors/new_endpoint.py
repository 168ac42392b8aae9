"""new_endpoint: a route never seen while learning starts serving traffic."""

from __future__ import annotations

import re
from typing import Any

from detector.config import DetectorSettings
from detector.detectors.base import EndpointWindow, SeriesKey, Signal
from detector.events import AccessEvent
from detector.kinds import Kind
from detector.state.component import assign, fields, stamp, unstamp


def _pattern(route: str) -> re.Pattern[str]:
    # A placeholder in the new route may stand for any literal segment of an old one.
    parts = [re.escape(p) for p in route.split("{id}")]
    return re.compile("[^/]+".join(parts) + r"\Z")


class NewEndpointDetector:
    """Series born after a service's learning period that answer successfully.

    Not new: series born while the service was still being learned, probes that
    only fail (404 floods are scanning), rarely used old routes (too few
    requests), and generalisations of known routes (a learned collapse turns
    ``/items/red`` into ``/items/{id}``: same traffic, new template).

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

    def __init__(self, settings: DetectorSettings) -> None:
        self.s = settings
        self.first_window: dict[str, int] = {}  # service -> first window index seen
        self.known: set[SeriesKey] = set()  # routes known from a trained model, if any
        # Series under watch: key -> [born window, successes, requests, raised]
        self.watch: dict[SeriesKey, list[int]] = {}

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
        self.watch[key] = [widx, 0, 0, 0]

    def on_window(
        self,
        key: SeriesKey,
        widx: int,
        start: float,
        end: float,
        requests: int,
        successes: int,
        samples: list[AccessEvent],
    ) -> Signal | None:
        """The pipeline's step for one series' closed window: :meth:`check`, then :meth:`learn`."""
        x = EndpointWindow(key, widx, start, end, requests, successes, samples)
        out = self.check(x)
        self.learn(x)
        return out[0] if out else None

    def _watched(self, x: EndpointWindow) -> list[int] | None:
        """The watch entry of the window's series, None when not (or no longer) watched."""
        w = self.watch.get(x.key)
        if w is None or x.widx - w[0] >= self.WATCH_WINDOWS:
            return None
        return w

    def _raises(self, w: list[int], x: EndpointWindow) -> bool:
        ok, total = w[1] + x.successes, w[2] + x.requests
        return not (w[3] or ok < self.s.new_endpoint_min_requests or ok < 0.8 * total)

    def check(self, x: EndpointWindow) -> list[Signal]:
        """A signal once a watched series has served enough requests, mostly successfully."""
        w = self._watched(x)
        if w is None or not self._raises(w, x):
            return []
        key, start, end = x.key, x.start, x.end
        ok, total = w[1] + x.successes, w[2] + x.requests
        return [
            Signal(
                kind="new_endpoint",
                service=key.service,
                route=key.route,
                method=key.method,
                client=None,
                start=start,
                end=end,
                score=0.9,
                observed=float(ok),
                baseline=0.0,
                requests=total,
                p_value=0.0,
                extra={"successful_requests": ok, "window_seconds": end - start},
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
        raised = self._raises(w, x)
        w[1] += x.successes
        w[2] += x.requests
        if raised:
            del self.watch[x.key]

    # ---- state (detector.state.component) ----
    STATE_VERSION = 1
    _STATE = ("first_window", "watch", "known")

    def snapshot(self) -> dict[str, Any]:
        return stamp(self.STATE_VERSION, fields(self, self._STATE))

    def restore(self, data: Any) -> None:
        what = "new_endpoint"
        assign(self, unstamp(data, self.STATE_VERSION, {}, what), self._STATE, what)
