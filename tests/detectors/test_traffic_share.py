"""A route's traffic judged with its service (lifts and the way back) and intermittent routes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from detector.config import DetectorSettings
from detector.detectors.base import SeriesKey, SeriesWindow
from detector.detectors.traffic import TrafficDetector
from detector.windows.stats import COUNT, new_series_stats

KEY = SeriesKey("svc", "GET", "/r")


def _run(route: Callable[[int], float], rest: Callable[[int], float], windows: int,
         seed: int = 0) -> list[tuple[int, str]]:
    """Poisson counts of the route and of the rest of its service; (window, kind) flagged."""
    det = TrafficDetector(DetectorSettings())
    state = det.new_state()
    rng = np.random.default_rng(seed)
    flags = []
    for i in range(windows):
        st = new_series_stats()
        st[COUNT] = x = int(rng.poisson(route(i)))
        others = int(rng.poisson(rest(i)))
        w = SeriesWindow(KEY, i * 60.0, i * 60.0 + 60.0, st, 1.0, None, x + others)
        sig = det.check(state, w)
        det.learn(state, w, sig is not None)
        if sig:
            flags.append((i, sig.kind))
    return flags


def _lift(i: int, start: int = 300, up: int = 20, top: int = 60, down: int = 20,
          height: float = 1.6) -> float:
    """A campaign's lift: ``up`` windows up to ``height``, ``top`` on it, ``down`` back."""
    m = i - start
    share = min(max(m / up, 0.0), 1.0, max((up + top + down - m) / down, 0.0))
    return 1.0 + (height - 1.0) * share


def test_a_service_wide_rise_the_route_follows_is_no_spike_and_its_end_no_drop() -> None:
    flags = _run(lambda i: 30.0 * _lift(i, height=2.5), lambda i: 300.0 * _lift(i, height=2.5),
                 600)
    assert flags == []


def test_the_same_rise_on_the_route_alone_is_a_spike() -> None:
    flags = _run(lambda i: 30.0 * _lift(i, height=2.5), lambda i: 300.0, 600)
    assert any(k == "traffic_spike" and 300 < i < 400 for i, k in flags)


def test_a_route_that_loses_its_traffic_while_the_service_carries_on_is_a_drop() -> None:
    flags = _run(lambda i: 30.0 if not 300 <= i < 360 else 3.0, lambda i: 300.0, 400)
    assert any(k == "traffic_drop" and 300 <= i < 320 for i, k in flags)


def test_a_whole_service_going_silent_is_still_a_drop() -> None:
    # The share explains moderate moves of the service, not an outage.
    flags = _run(lambda i: 30.0 if not 300 <= i < 360 else 1.0,
                 lambda i: 300.0 if not 300 <= i < 360 else 10.0, 400)
    assert any(k == "traffic_drop" and 300 <= i < 320 for i, k in flags)


def _bursty(heights: dict[int, float]) -> Callable[[int], float]:
    return lambda i: heights.get(i, 0.0)


def test_an_intermittent_routes_bursts_of_varied_heights_are_no_spikes() -> None:
    # A batch export: silent, then a minute or two of 15-40 requests every 20-60 minutes.
    rng = np.random.default_rng(3)
    heights: dict[int, float] = {}
    t = 11
    while t < 1400:
        for j in range(int(rng.integers(1, 3))):
            heights[t + j] = float(rng.uniform(15, 40))
        t += int(rng.integers(20, 60))
    flags = _run(_bursty(heights), lambda i: 300.0, 1440)
    assert not [f for f in flags if f[1] == "traffic_spike"]


def test_an_intermittent_route_flooded_far_above_its_bursts_is_a_spike() -> None:
    heights = {i: 20.0 for i in range(11, 1000, 40)}
    heights.update({i: 400.0 for i in range(1200, 1210)})
    flags = _run(_bursty(heights), lambda i: 300.0, 1300)
    assert [k for i, k in flags if 1200 <= i < 1210] and all(i >= 1200 for i, _ in flags)
