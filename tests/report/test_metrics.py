"""The baseline band and the filled-in silences."""

from __future__ import annotations

from detector.report.collect import Window
from detector.report.metrics import BAND_MIN_POINTS, ERR5, P95, RATE, band, dense, values


def _w(i: int, n: int, err5: int = 0, p95: float | None = None) -> Window:
    return Window(60.0 * i, n, err5, 0, 0, 0, 0, None, p95)


def test_the_band_follows_the_past_hour_and_a_spike_leaves_it() -> None:
    ws = [_w(i, 100 + (i % 5)) for i in range(90)] + [_w(90, 400)]
    vals = values(ws, RATE, 60.0)
    b = band(ws, vals, RATE, 60.0)
    assert all(x is None for x in b[:BAND_MIN_POINTS])
    low, high = b[90]  # type: ignore[misc]
    assert low < 100 < 104 < high < 400  # the usual level inside, the spike outside


def test_a_share_band_stays_a_share() -> None:
    ws = [_w(i, 10, err5=5 if i % 2 else 0) for i in range(30)]
    b = band(ws, values(ws, ERR5, 60.0), ERR5, 60.0)
    assert all(x is None or 0.0 <= x[0] <= x[1] <= 1.0 for x in b)


def test_a_latency_band_never_collapses_to_a_line() -> None:
    ws = [_w(i, 10, p95=0.2) for i in range(30)]
    lo, hi = band(ws, values(ws, P95, 60.0), P95, 60.0)[-1]  # type: ignore[misc]
    assert lo < 0.2 < hi


def test_silence_is_a_rate_of_zero_and_no_share() -> None:
    ws = dense([_w(0, 10, err5=1), _w(3, 10, err5=1)], 60.0)
    assert values(ws, RATE, 60.0) == [10.0, 0.0, 0.0, 10.0]
    assert values(ws, ERR5, 60.0) == [0.1, None, None, 0.1]
