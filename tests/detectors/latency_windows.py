"""Seeded window sequences of one route's latencies (lognormal), for the latency tests."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np

from detector.detectors.base import SeriesKey, SeriesWindow, Signal
from detector.detectors.latency_regression import LatencyRegressionDetector
from detector.windows.stats import BOUNDS, COUNT, HIST, TIMED, new_series_stats

KEY = SeriesKey("shop", "GET", "/v1/cart")
T0 = 4 * 86400.0  # a Monday, midnight UTC
Factor = Callable[[float], float]  # seconds since the deploy -> latency multiple


def daily(t: float, amplitude: float) -> float:
    """A busy-hours hump peaking at 14:00 UTC."""
    hour = ((t % 86400.0) / 3600.0 - 14.0 + 12.0) % 24.0 - 12.0
    return 1.0 + amplitude * math.exp(-0.5 * (hour / 5.0) ** 2)


def windows(seed: int, rate: float, hours: float, *, sigma: float = 0.5,
            cycle: float = 0.08, deploy: float | None = None,
            factor: Factor | None = None) -> Iterator[SeriesWindow]:
    """One-minute windows of ``rate`` requests a minute (Poisson, with a daily cycle)."""
    rng = np.random.default_rng(seed)
    for i in range(int(hours * 60)):
        t = T0 + i * 60.0
        n = int(rng.poisson(rate * daily(t, 0.6) / 1.3))
        d = 0.08 * daily(t, cycle) * np.exp(sigma * rng.normal(size=n))
        dep = deploy if deploy is not None and deploy <= t + 60.0 else None
        if dep is not None and factor is not None:
            d *= factor(t + 30.0 - dep) * np.exp(rng.normal(0.0, 0.15, n))
        st = new_series_stats()
        st[COUNT] = st[TIMED] = n
        hist = st[HIST]
        for b in np.searchsorted(BOUNDS, d, side="right"):
            hist[int(b)] += 1
        yield SeriesWindow(KEY, t, t + 60.0, st, 1.0, dep)


def ramp(top: float, seconds: float) -> Factor:
    """Latency creeping linearly from 1x at the deploy to ``top`` x, then holding."""
    return lambda since: 1.0 + (top - 1.0) * min(1.0, max(0.0, since) / seconds)


def run(det: LatencyRegressionDetector, wins: Iterator[SeriesWindow]) -> list[Signal]:
    """Check then learn each window, as the pipeline does; the signals raised."""
    state = det.new_state()
    out = []
    for w in wins:
        sig = det.check(state, w)
        det.learn(state, w, sig is not None)
        if sig is not None:
            out.append(sig)
    return out
