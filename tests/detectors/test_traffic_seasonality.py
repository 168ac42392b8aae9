"""Traffic baselines follow daily seasonality and slow growth without paging."""

from __future__ import annotations

import math

import numpy as np

from detector.config import DetectorSettings
from detector.detectors.base import SeriesKey, SeriesWindow
from detector.detectors.traffic import TrafficDetector
from detector.windows.stats import COUNT, new_series_stats

KEY = SeriesKey("svc", "GET", "/r")


def _rate(t: float, growth: float = 0.0) -> float:
    day = 86400.0
    base = 120 * (1 + 0.7 * math.sin(2 * math.pi * (t % day) / day - math.pi / 2))
    return max(1.0, base) * (1 + growth * t / (3 * day))


def _feed(
    det: TrafficDetector,
    state: object,
    windows: int,
    *,
    spike_at: int | None = None,
    growth: float = 0.0,
    seed: int = 0,
) -> list[tuple[int, str]]:
    rng = np.random.default_rng(seed)
    flags = []
    for i in range(windows):
        t = i * 60.0
        lam = _rate(t, growth) * rng.lognormal(0, 0.05)
        n = int(rng.poisson(lam))
        if spike_at is not None and spike_at <= i < spike_at + 5:
            n = int(rng.poisson(lam * 6))
        st = new_series_stats()
        st[COUNT] = n
        w = SeriesWindow(KEY, t, t + 60.0, st, 1.0)
        sig = det.check(state, w)  # type: ignore[arg-type]
        det.learn(state, w, sig is not None)  # type: ignore[arg-type]
        if sig:
            flags.append((i, sig.kind))
    return flags


def test_three_days_of_seasonal_growing_traffic_raise_nothing() -> None:
    det = TrafficDetector(DetectorSettings())
    flags = _feed(det, det.new_state(), 3 * 1440, growth=0.3)
    assert flags == []


def test_spike_at_night_trough_is_flagged_after_a_day() -> None:
    det = TrafficDetector(DetectorSettings())
    trough = 1440 + 60  # 01:00 on day two, a quiet hour
    flags = _feed(det, det.new_state(), 1440 + 200, spike_at=trough, seed=3)
    assert (trough, "traffic_spike") in flags
    assert all(trough <= i < trough + 5 for i, _ in flags)
