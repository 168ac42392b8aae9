"""new_endpoint: a route never seen while learning starts serving traffic."""

from __future__ import annotations

import re
from typing import Any

from detector.config import DetectorSettings
from detector.detectors.base import SeriesKey, Signal
from detector.events import AccessEvent
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

    kinds: tuple[str, ...] = ("new_endpoint",)
    WATCH_WINDOWS = 15  # a new route must reach its volume within this many windows

    def __init__(self, settings: DetectorSettings) -> None:
        self.s = settings
        self.first_window: dict[str, int] = {}  # service -> first window index seen
        self.known: set[SeriesKey] = set()  # routes known from a trained model, if any
        # Series under watch: key -> [born window, successes, requests, raised]
        self.watch: dict[SeriesKey, list[int]] = {}

    def service_seen(self, service: str, widx: int) -> None:
        self.first_window.setdefault(service, widx)

    def series_born(self, key: SeriesKey, widx: int, existing: list[SeriesKey]) -> None:
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
        w = self.watch.get(key)
        if w is None:
            return None
        if widx - w[0] >= self.WATCH_WINDOWS:
            del self.watch[key]
            return None
        w[1] += successes
        w[2] += requests
        if w[3] or w[1] < self.s.new_endpoint_min_requests or w[1] < 0.8 * w[2]:
            return None
        w[3] = 1
        del self.watch[key]
        return Signal(
            "new_endpoint",
            key.service,
            key.route,
            key.method,
            None,
            start,
            end,
            0.9,
            float(w[1]),
            0.0,
            w[2],
            0.0,
            {"successful_requests": w[1], "window_seconds": end - start},
            samples,
        )

    # ---- state (detector.state.component) ----
    STATE_VERSION = 1
    _STATE = ("first_window", "watch", "known")

    def snapshot(self) -> dict[str, Any]:
        return stamp(self.STATE_VERSION, fields(self, self._STATE))

    def restore(self, data: Any) -> None:
        what = "new_endpoint"
        assign(self, unstamp(data, self.STATE_VERSION, {}, what), self._STATE, what)
