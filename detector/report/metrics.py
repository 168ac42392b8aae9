"""The metrics a report draws, and the baseline band drawn behind each.

The band is the report's own, not a detector's model: at each window, the median of
the same metric over the previous hour (``BAND_WINDOWS``) plus or minus three robust
spreads (1.4826 x the median absolute deviation), the spread never under the noise
of the window's own volume (Poisson for a rate, binomial for a share, 5 % for a
latency). It shows where the recent past would put a value; the detectors' decisions
are in each incident's evidence (their baseline is the dashed line of its chart).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

from detector.report.collect import Window

BAND_WINDOWS = 60  # the band's memory, in windows (an hour of 60 s windows)
BAND_MIN_POINTS = 10  # fewer past values than this: no band there
BAND_WIDTH = 3.0  # robust spreads each side
MAD_SCALE = 1.4826  # MAD -> standard deviation for normal data


class Metric(NamedTuple):
    """One drawable quantity of a window: its value (None: nothing to say, e.g. a share
    of no request), label, unit and how to print a value."""

    key: str
    label: str
    value: Callable[[Window, float], float | None]  # (window, window seconds)
    fmt: Callable[[float], str]
    floor: Callable[[float, Window, float], float]  # minimum spread at a median


def _share(part: Callable[[Window], int]) -> Callable[[Window, float], float | None]:
    def value(w: Window, _size: float) -> float | None:
        return part(w) / w.requests if w.requests else None
    return value


def _pct(v: float) -> str:
    return f"{v * 100:.1f} %" if v < 0.1 else f"{v * 100:.0f} %"


def _ms(v: float) -> str:
    return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.2f} s"


def _rate_floor(median: float, _w: Window, _size: float) -> float:
    return math.sqrt(max(median, 1.0))


def _share_floor(median: float, w: Window, _size: float) -> float:
    n = max(w.requests, 1)
    p = max(median, 1.0 / n)
    return math.sqrt(p * (1 - min(p, 1.0)) / n)


def _latency_floor(median: float, _w: Window, _size: float) -> float:
    return 0.05 * median


RATE = Metric("rate", "requests / min", lambda w, size: w.requests * 60.0 / size,
              lambda v: f"{v:,.0f}/min" if v >= 10 else f"{v:.1f}/min", _rate_floor)
ERR5 = Metric("err5", "5xx share", _share(lambda w: w.err5), _pct, _share_floor)
ERR4_ALL = Metric("err4_all", "4xx share (all 4xx)", _share(lambda w: w.err4 + w.auth + w.nf),
                  _pct, _share_floor)
ERR4 = Metric("err4", "4xx share (not 401/403/404)", _share(lambda w: w.err4), _pct,
              _share_floor)
AUTH = Metric("auth", "401/403 share", _share(lambda w: w.auth), _pct, _share_floor)
NF = Metric("nf", "404 share", _share(lambda w: w.nf), _pct, _share_floor)
FLAGGED = Metric("flagged", "flagged requests / window", lambda w, _s: float(w.flagged),
                 lambda v: f"{v:.0f}", _rate_floor)
P50 = Metric("p50", "latency p50", lambda w, _s: w.p50, _ms, _latency_floor)
P95 = Metric("p95", "latency p95", lambda w, _s: w.p95, _ms, _latency_floor)

# Which metric made each kind of incident, and whether its evidence's ``baseline`` is in
# that metric's unit (then the incident chart draws it).
KIND_METRIC: dict[str, tuple[Metric, bool]] = {
    "traffic_spike": (RATE, True), "traffic_drop": (RATE, True),
    "new_endpoint": (RATE, False), "object_enumeration": (RATE, False),
    "data_exposure": (RATE, False),
    "error_surge": (ERR5, True), "client_error_surge": (ERR4, True),
    "latency_regression": (P95, True),
    "auth_failure_burst": (AUTH, True), "authorization_drift": (AUTH, False),
    "scanning": (NF, False),
    "attack_payload": (FLAGGED, False), "unusual_payload": (FLAGGED, False),
}


MAX_FILL = 20_000  # a silence longer than this many windows stays a gap in the line


def dense(windows: Sequence[Window], size: float) -> list[Window]:
    """The windows with the silent ones between them filled in: no request there is a
    rate of zero (a drop the line must show), and no share or latency.

    >>> ws = [Window(0.0, 5, 0, 0, 0, 0, 0, None, None), Window(180.0, 7, 0, 0, 0, 0, 0,
    ...       None, None)]
    >>> [(w.start, w.requests) for w in dense(ws, 60.0)]
    [(0.0, 5), (60.0, 0), (120.0, 0), (180.0, 7)]
    """
    out: list[Window] = []
    for w in windows:
        if out:
            missing = round((w.start - out[-1].start) / size) - 1
            if 0 < missing <= MAX_FILL:
                base = out[-1].start
                out.extend(Window(base + k * size, 0, 0, 0, 0, 0, 0, None, None)
                           for k in range(1, missing + 1))
        out.append(w)
    return out


def values(windows: Sequence[Window], metric: Metric, size: float) -> list[float | None]:
    """The metric of each window."""
    return [metric.value(w, size) for w in windows]


def band(windows: Sequence[Window], vals: Sequence[float | None], metric: Metric,
         size: float) -> list[tuple[float, float] | None]:
    """The baseline band (low, high) at each window, from the ``BAND_WINDOWS`` before it.

    >>> ws = [Window(60.0 * i, 60, 0, 0, 0, 0, 0, None, None) for i in range(15)]
    >>> b = band(ws, values(ws, RATE, 60.0), RATE, 60.0)
    >>> b[5] is None, b[14]
    (True, (36.76..., 83.23...))
    """
    out: list[tuple[float, float] | None] = []
    for i, w in enumerate(windows):
        past = sorted(v for v in vals[max(0, i - BAND_WINDOWS):i] if v is not None)
        if len(past) < BAND_MIN_POINTS:
            out.append(None)
            continue
        med = _median(past)
        mad = _median(sorted(abs(v - med) for v in past))
        spread = max(MAD_SCALE * mad, metric.floor(med, w, size))
        low = max(0.0, med - BAND_WIDTH * spread)
        high = med + BAND_WIDTH * spread
        if metric in SHARES:
            high = min(1.0, high)
        out.append((low, high))
    return out


SHARES = (ERR5, ERR4_ALL, ERR4, AUTH, NF)


def _median(xs: Sequence[float]) -> float:
    n = len(xs)
    mid = n // 2
    return xs[mid] if n % 2 else (xs[mid - 1] + xs[mid]) / 2
