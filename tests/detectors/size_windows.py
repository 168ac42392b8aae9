"""Seeded window sequences of one route's 2xx response sizes, for the data-exposure tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from detector.detectors.base import SeriesKey, SeriesWindow, Signal, WindowDetector
from detector.windows.stats import BYTES, COUNT, NB_BYTES, new_series_stats, size_bucket

KEY = SeriesKey("users", "GET", "/v1/users/{id}")
T0 = 4 * 86400.0  # a Monday, midnight UTC
# (rng, seconds since the deploy or None before it, event time, sizes) -> sizes
Change = Callable[[np.random.Generator, float | None, float, np.ndarray], np.ndarray]


def lognormal(median: float, sigma: float = 0.4) -> Change:
    """Sizes drawn afresh around ``median`` (the route's usual bodies)."""
    return lambda rng, _since, _t, n: median * np.exp(sigma * rng.normal(size=len(n)))


def windows(seed: int, rate: float, hours: float, *, median: float = 1200.0,
            deploy: float | None = None, after: Change | None = None,
            draw: Change | None = None) -> Iterator[SeriesWindow]:
    """One-minute windows of ``rate`` answers a minute (Poisson), sizes from ``draw``
    (lognormal around ``median`` by default), rewritten by ``after`` once deployed."""
    rng = np.random.default_rng(seed)
    draw = draw or lognormal(median)
    for i in range(int(hours * 60)):
        t = T0 + i * 60.0
        n = int(rng.poisson(rate))
        sizes = draw(rng, None, t, np.zeros(n))
        dep = deploy if deploy is not None and deploy <= t + 60.0 else None
        if dep is not None and after is not None and t >= dep:
            sizes = after(rng, t - dep, t, sizes)
        st = new_series_stats()
        st[COUNT] = n
        if n:
            hist = [0] * NB_BYTES
            for s in sizes:
                hist[size_bucket(max(1, int(s)))] += 1
            st[BYTES] = hist
        yield SeriesWindow(KEY, t, t + 60.0, st, 1.0, dep)


def run(det: WindowDetector, wins: Iterator[SeriesWindow]) -> list[Signal]:
    """Check then learn every window, as the pipeline does; the signals raised."""
    state = det.new_state()
    out = []
    for w in wins:
        sig = det.check(state, w)
        det.learn(state, w, sig is not None)
        if sig is not None:
            out.append(sig)
    return out
