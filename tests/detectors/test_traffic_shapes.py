"""Traffic detectors on real-world shapes: ramps, hourly batch jobs, weekend troughs, silence."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from detector.config import DetectorSettings
from detector.detectors.base import SeriesKey, SeriesWindow
from detector.detectors.traffic import TrafficDetector
from detector.windows.stats import COUNT, S404, new_series_stats

KEY = SeriesKey("svc", "GET", "/r")
DAY = 1440  # windows of one minute
FRIDAY = 4 * 86400.0  # 1970-01-05 was a Monday: day 4 is a Friday


def _run(rate: Callable[[int], float], windows: int, *, seed: int = 0,
         t0: float = 0.0, noise: float = 0.05) -> list[tuple[int, str]]:
    """Feed Poisson counts of ``rate(i)`` (a little over-dispersed); (window, kind) flagged."""
    det = TrafficDetector(DetectorSettings())
    state = det.new_state()
    rng = np.random.default_rng(seed)
    flags = []
    for i in range(windows):
        t = t0 + i * 60.0
        st = new_series_stats()
        st[COUNT] = int(rng.poisson(rate(i) * rng.lognormal(0, noise)))
        w = SeriesWindow(KEY, t, t + 60.0, st, 1.0)
        sig = det.check(state, w)
        det.learn(state, w, sig is not None)
        if sig:
            flags.append((i, sig.kind))
    return flags


def _day(i: int) -> float:
    """Relative load by minute of day: trough ~0.4 at night, peak ~1.6 at 14:00."""
    d = ((i % DAY) / 60.0 - 14.0 + 12.0) % 24.0 - 12.0
    return 0.35 + 1.2 * math.exp(-0.5 * (d / 5.0) ** 2)


def test_a_half_hour_ramp_to_four_times_the_level_is_a_spike() -> None:
    start = 180

    def rate(i: int) -> float:
        return 100.0 * (1 + 3 * min(max(i - start, 0) / 30.0, 1.0)) if i < start + 60 else 100.0

    flags = _run(rate, 300, seed=1)
    spikes = [i for i, k in flags if k == "traffic_spike"]
    assert spikes and start < spikes[0] < start + 20  # caught on the way up
    assert all(start < i < start + 60 for i, _ in flags)


def test_a_marketing_ramp_of_half_the_level_over_an_hour_is_not() -> None:
    def rate(i: int) -> float:
        lift = min(max(i - 180, 0) / 60.0, 1.0) - min(max(i - 360, 0) / 60.0, 1.0)
        return 100.0 * (1 + 0.5 * lift)

    assert _run(rate, 600, seed=2) == []


def test_an_hourly_batch_job_pages_on_its_first_occurrences_only() -> None:
    def rate(i: int) -> float:
        burst = i % 60 in (47, 48)  # a job at minute 47 of every hour, two minutes long
        return 30.0 * _day(i) + (600.0 if burst else 0.0)

    flags = _run(rate, DAY + 600, seed=3)
    hours = sorted({i // 60 for i, _ in flags})
    assert len(hours) <= 3 and all(h < 3 for h in hours), flags


def test_a_spike_off_the_batch_jobs_beat_still_fires() -> None:
    at = DAY + 640  # day two, 10:40: a spike of 6x for ten minutes

    def rate(i: int) -> float:
        burst = i % 60 in (17, 18)
        base = 30.0 * _day(i)
        return base * (6.0 if at <= i < at + 10 else 1.0) + (600.0 if burst else 0.0)

    flags = _run(rate, at + 60, seed=4)
    assert any(at <= i < at + 10 and k == "traffic_spike" for i, k in flags), flags


def _weekend(i: int) -> float:
    """Friday at full load, then Saturday and Sunday at about half, eased in over hours."""
    hours = i / 60.0 - 24.0  # Saturday 00:00 is hour 0
    trough = 1.0 - 0.5 / (1.0 + math.exp(-(hours - 0.0) / 1.5))
    return 200.0 * _day(i) * trough


def test_a_weekend_trough_after_one_weekday_is_not_a_drop() -> None:
    flags = _run(_weekend, 3 * DAY, seed=5, t0=FRIDAY)
    assert flags == []


def test_a_drop_inside_the_weekend_trough_still_is() -> None:
    at = DAY + 900  # Saturday 15:00

    def rate(i: int) -> float:
        return _weekend(i) * (0.2 if at <= i < at + 20 else 1.0)

    flags = _run(rate, at + 60, seed=6, t0=FRIDAY)
    assert flags and all(at <= i < at + 20 and k == "traffic_drop" for i, k in flags), flags
    assert flags[0][0] <= at + 2


def test_a_sparse_route_falling_silent_for_an_hour_raises_nothing() -> None:
    # 0.2 requests a minute: an hour of silence has probability exp(-12), far above alpha.
    flags = _run(lambda i: 0.0 if 600 <= i < 660 else 0.2, 900, seed=7)
    assert flags == []


def test_a_three_per_minute_route_silent_for_long_is_a_drop_once_improbable() -> None:
    # Below drop_min_expected per window, so no fixed horizon can judge it; the run of
    # low windows grows until its expected count makes the silence improbable
    # (sums over the run need drop_min_expected * sqrt(windows) expected requests).
    flags = _run(lambda i: 0.0 if 600 <= i < 640 else 3.0, 900, seed=8)
    assert flags and all(kind == "traffic_drop" and 605 <= i < 640 for i, kind in flags)
    # The same silence for ten minutes, and a route at 0.5 per minute silent for half
    # an hour, are what quiet routes do by chance: nothing.
    assert _run(lambda i: 0.0 if 600 <= i < 610 else 2.0, 900, seed=8) == []
    assert _run(lambda i: 0.0 if 600 <= i < 630 else 0.5, 900, seed=8) == []


def test_a_state_snapshotted_before_the_slow_level_and_bursts_keeps_working() -> None:
    det = TrafficDetector(DetectorSettings(warmup_windows=5))
    state = det.new_state()
    del state.bursts, state.baseline.slow  # what a restored older snapshot lacks
    rng = np.random.default_rng(9)
    kinds = []
    for i in range(80):
        st = new_series_stats()
        st[COUNT] = 900 if i == 70 else int(rng.poisson(100))
        w = SeriesWindow(KEY, i * 60.0, i * 60.0 + 60.0, st, 1.0)
        sig = det.check(state, w)
        det.learn(state, w, sig is not None)
        kinds.append(sig.kind if sig else None)
    assert kinds[70] == "traffic_spike" and kinds.count("traffic_spike") == 1
    assert state.bursts is not None and state.baseline.slow is not None


def test_a_series_of_scanner_probes_that_stops_is_not_a_drop() -> None:
    # A scanner walked its list for hours (every request a 404), then moved on: the
    # silence is certain, but nobody lost a route. A served route of the same volume
    # that goes silent is a drop.
    def run(status_index: int | None) -> list[str]:
        det = TrafficDetector(DetectorSettings())
        state = det.new_state()
        rng = np.random.default_rng(3)
        kinds = []
        for i in range(300):
            st = new_series_stats()
            st[COUNT] = 0 if i >= 250 else int(rng.poisson(4.0))
            if status_index is not None:
                st[status_index] = st[COUNT]
            w = SeriesWindow(KEY, i * 60.0, i * 60.0 + 60.0, st, 1.0)
            sig = det.check(state, w)
            det.learn(state, w, sig is not None)
            kinds += [sig.kind] if sig else []
        return kinds

    assert run(S404) == []
    assert run(None) and set(run(None)) == {"traffic_drop"}
