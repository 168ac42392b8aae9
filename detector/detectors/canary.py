"""Canary comparisons: a newer version against the older one serving beside it.

While two versions of a service answer on a route at once (a canary, blue/green),
each window's requests are split by version (``VER0``/``VERS`` of the series
window) and summed per version over the concurrent period: the windows where
both served. The newer version (the one this series saw first later) is then
compared with the older one's *concurrent* traffic: same hours, same clients,
same load, so neither time of day nor a slow drift can pass for a difference.
A canary failing 10 % of its requests at a tenth of the traffic barely moves the
route's rate, let alone the service's, but stands out against its twin.

A 90 s rolling update mixes versions for two or three windows: too short a
period is not judged (:data:`MIN_MIXED`), and what it breaks is the ordinary
detectors' to report.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any, NamedTuple

from detector.config import DetectorSettings
from detector.detectors import two_sample
from detector.detectors.base import SeriesWindow, Signal, score_from_p
from detector.events import VERSION, AccessEvent
from detector.kinds import Kind
from detector.windows.stats import (
    BYTES,
    COUNT,
    ERR_SAMPLES,
    HIST,
    S5XX,
    SAMPLES,
    V_5XX,
    V_BYTES,
    V_COUNT,
    V_HIST,
    VER0,
    VERS,
    bucket_value,
    size_value,
    slot,
)

MIN_MIXED = 5  # windows where both versions served: a rolling update mixes at most 3
GAP = 10  # windows without both versions end the concurrent period
HALVE_EVERY = 60  # mixed windows: the sums are halved this often (a half-life of an hour)
MAX_VERSIONS = 8  # first-seen times kept per series (the newest)
MIN_NEW = 30.0  # requests of the newer version over the period
MIN_OLD = 100.0  # requests of the older version over the period
MIN_HITS = 4  # 5xx of the newer version
ERR_MIN_INCREASE = 0.02  # 5xx share: at least this much above the older version's ...
ERR_MIN_RATIO = 2.0  # ... and at least this multiple of it
LAT_MIN_RATIO = 1.25  # median or p95 ratio (histogram buckets are 20 % apart) ...
LAT_MIN_DELTA = 0.02  # ... and that many seconds slower
SIZE_MIN_RATIO = 1.2  # median or p90 of 2xx sizes: under 20 % says nothing
MIN_SIZED = 20.0  # sized 2xx answers on each side

# Per-version sums: [requests, 5xx, latency histogram, 2xx size histogram or None]
Side = list[Any]


class Period(NamedTuple):
    """The concurrent period of one series after a window, as learning it would leave it."""

    older: str | None
    newer: str | None
    old: Side | None
    new: Side | None
    mixed: int  # windows summed
    idle: int  # windows since both versions last served
    since: float  # start of the first summed window


_IDLE = Period(None, None, None, None, 0, 0, 0.0)


class _State:
    __slots__ = ("seen", "older", "newer", "old", "new", "mixed", "idle", "since")

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}  # version -> first window start this series saw it
        self.older: str | None = None
        self.newer: str | None = None
        self.old: Side | None = None
        self.new: Side | None = None
        self.mixed = 0
        self.idle = 0
        self.since = 0.0

    def period(self) -> Period:
        return Period(self.older, self.newer, self.old, self.new, self.mixed, self.idle,
                      self.since)


def split(stats: Sequence[Any]) -> dict[str, Side]:
    """Each version's share of a series window (the first version's: totals minus the rest).

    >>> from detector.windows.stats import new_series_stats, new_version_stats
    >>> s = new_series_stats(); s[COUNT] = 10; s[S5XX] = 3; s[VER0] = "1.0"
    >>> v = new_version_stats(); v[V_COUNT] = 4; v[V_5XX] = 2; s[VERS] = {"1.1": v}
    >>> sorted((k, side[:2]) for k, side in split(s).items())
    [('1.0', [6, 1]), ('1.1', [4, 2])]
    """
    ver0, vers = slot(stats, VER0), slot(stats, VERS)
    if not vers:
        return {}  # one version (or none): nothing to compare in this window
    count, errs = int(stats[COUNT]), int(stats[S5XX])
    hist = stats[HIST]
    sizes = slot(stats, BYTES)
    out: dict[str, Side] = {}
    for ver, v in vers.items():
        if ver is None or not v[V_COUNT]:
            continue
        out[ver] = [v[V_COUNT], v[V_5XX], v[V_HIST], v[V_BYTES]]
    for v in vers.values():  # the first version keeps what the others did not take
        count -= v[V_COUNT]
        errs -= v[V_5XX]
        hist = list(map(operator.sub, hist, v[V_HIST]))
        if sizes is not None and v[V_BYTES] is not None:
            sizes = list(map(operator.sub, sizes, v[V_BYTES]))
    if ver0 is not None and count > 0:
        out[ver0] = [count, errs, hist, sizes if sizes and any(sizes) else None]
    return out


def _add(acc: Side | None, side: Side, halve: bool) -> Side:
    """``acc`` plus ``side`` (a new list; sums run in C), halved when ``halve``."""
    sizes = side[3]
    if acc is None:
        return [side[0], side[1], list(side[2]), None if sizes is None else list(sizes)]
    if sizes is None:
        sizes = acc[3]
    elif acc[3] is not None:
        sizes = list(map(operator.add, acc[3], sizes))
    else:
        sizes = list(sizes)  # the state never shares a list with a window
    out = [acc[0] + side[0], acc[1] + side[1], list(map(operator.add, acc[2], side[2])), sizes]
    if halve:  # a blue/green that lasts days compares its last hours, not its first
        out = [out[0] // 2, out[1] // 2, [x // 2 for x in out[2]],
               None if out[3] is None else [x // 2 for x in out[3]]]
    return out


def advance(st: _State, win: SeriesWindow) -> Period:
    """The concurrent period after ``win`` (pure: ``st`` is unchanged)."""
    sides = split(win.stats)
    cur = st.period()
    if len(sides) < 2:
        if cur.newer is None:
            return cur
        if cur.idle + 1 >= GAP:
            return _IDLE  # the canary ended (promoted or rolled back)
        return cur._replace(idle=cur.idle + 1)
    if cur.older not in sides or cur.newer not in sides:
        if cur.newer is not None and cur.idle + 1 < GAP and (
                cur.older in sides or cur.newer in sides) and len(sides) == 2:
            # One of the pair beside a third version: not the pair's comparison.
            return cur._replace(idle=cur.idle + 1)
        older, newer = _pair(st, sides, win.start)
        cur = Period(older, newer, None, None, 0, 0, win.start)
    assert cur.older is not None and cur.newer is not None
    halve = cur.mixed > 0 and cur.mixed % HALVE_EVERY == 0
    return cur._replace(old=_add(cur.old, sides[cur.older], halve),
                        new=_add(cur.new, sides[cur.newer], halve), mixed=cur.mixed + 1, idle=0)


def _pair(st: _State, sides: dict[str, Side], start: float) -> tuple[str, str]:
    """(older, newer): the newer is the version first seen last (at a tie the smaller one)."""
    newer = max(sides, key=lambda v: (st.seen.get(v, start), -sides[v][0], v))
    older = max((v for v in sides if v != newer), key=lambda v: (sides[v][0], v))
    return older, newer


class CanaryDetector:
    """A newer version's 5xx share, latency and 2xx sizes against the older one beside it.

    Signals carry the newer version (``Signal.version``) and its share of the
    concurrent traffic; the older version's figures are the baseline.

    >>> from detector.detectors.base import SeriesKey
    >>> from detector.windows.stats import new_series_stats, new_version_stats
    >>> det = CanaryDetector(DetectorSettings())
    >>> st = det.new_state()
    >>> def win(i):
    ...     s = new_series_stats(); s[COUNT] = 100; s[S5XX] = 10; s[VER0] = "1.0"
    ...     v = new_version_stats(); v[V_COUNT] = 10; v[V_5XX] = 10; s[VERS] = {"1.1": v}
    ...     return SeriesWindow(SeriesKey("s", "GET", "/x"), i * 60.0, i * 60.0 + 60, s, 1.0)
    >>> for i in range(MIN_MIXED):
    ...     sig = det.check(st, win(i)); det.learn(st, win(i), sig is not None)
    >>> sig.kind, sig.version, sig.observed, sig.baseline
    ('error_surge', '1.1', 1.0, 0.0)
    """

    kinds: tuple[Kind, ...] = ("error_surge", "latency_regression", "data_exposure")

    def __init__(self, settings: DetectorSettings) -> None:
        self.s = settings

    def new_state(self) -> _State:
        return _State()

    def check(self, state: _State, win: SeriesWindow) -> Signal | None:
        return self._judge(advance(state, win), win)

    def assess(self, state: _State, win: SeriesWindow) -> tuple[Signal | None, Period]:
        """:meth:`check`, with the period :meth:`learn_assessed` takes back
        (AssessingDetector)."""
        p = advance(state, win)
        return self._judge(p, win), p

    def _judge(self, p: Period, win: SeriesWindow) -> Signal | None:
        if p.mixed < MIN_MIXED or p.old is None or p.new is None or p.idle:
            return None
        found = [x for x in (self._errors(p), self._latency(p), self._sizes(p)) if x is not None]
        if not found:
            return None
        kind, pv, observed, baseline, extra = min(found, key=lambda x: x[1])
        assert p.older is not None and p.newer is not None
        n_new, n_old = p.new[0], p.old[0]
        mine = p.newer
        samples = [e for e in (*win.stats[ERR_SAMPLES], *win.stats[SAMPLES])
                   if _version(e) == mine][:3]
        return Signal(
            kind=kind, service=win.key.service, route=win.key.route, method=win.key.method,
            client=None, start=p.since, end=win.end, score=score_from_p(pv),
            observed=round(observed, 4), baseline=round(baseline, 4),
            requests=round(n_new), p_value=pv,
            extra={"version_share": round(n_new / (n_new + n_old), 4),
                   "other_version": p.older, "version_requests": round(n_new),
                   "other_requests": round(n_old), "concurrent_windows": p.mixed,
                   "change_start": p.since, **extra,
                   "window_seconds": win.end - win.start},
            samples=samples, version=mine)

    def _errors(self, p: Period) -> tuple[Kind, float, float, float, dict[str, Any]] | None:
        assert p.old is not None and p.new is not None
        n1, k1, n0, k0 = (round(x) for x in (p.new[0], p.new[1], p.old[0], p.old[1]))
        if n1 < MIN_NEW or n0 < MIN_OLD or k1 < MIN_HITS:
            return None
        r1, r0 = k1 / n1, k0 / n0
        if r1 - r0 < ERR_MIN_INCREASE or r1 < ERR_MIN_RATIO * r0:
            return None
        pv = two_sample.share_above(k1, n1, k0, n0)
        if pv > self.s.alpha:
            return None
        return "error_surge", pv, r1, r0, {"errors": k1, "other_errors": k0}

    def _latency(self, p: Period) -> tuple[Kind, float, float, float, dict[str, Any]] | None:
        assert p.old is not None and p.new is not None
        before, after = p.old[2], p.new[2]
        if sum(after) < MIN_NEW or sum(before) < MIN_OLD:
            return None
        s = two_sample.shift(before, after, bucket_value, upper=0.95)
        if s is None or s.p_value > self.s.alpha:
            return None
        m0 = two_sample.hist_quantile(before, 0.5, bucket_value) or 0.0
        m1 = two_sample.hist_quantile(after, 0.5, bucket_value) or 0.0
        q0 = two_sample.hist_quantile(before, 0.95, bucket_value) or 0.0
        q1 = two_sample.hist_quantile(after, 0.95, bucket_value) or 0.0
        if not ((s.median_ratio >= LAT_MIN_RATIO and m1 - m0 >= LAT_MIN_DELTA)
                or (s.upper_ratio >= LAT_MIN_RATIO and q1 - q0 >= LAT_MIN_DELTA)):
            return None
        return "latency_regression", s.p_value, q1, q0, {
            "p50": round(m1, 4), "baseline_p50": round(m0, 4),
            "superiority": round(s.superiority, 4)}

    def _sizes(self, p: Period) -> tuple[Kind, float, float, float, dict[str, Any]] | None:
        assert p.old is not None and p.new is not None
        before, after = p.old[3], p.new[3]
        if before is None or after is None or sum(after) < MIN_SIZED or sum(before) < MIN_SIZED:
            return None
        s = two_sample.shift(before, after, size_value, upper=0.9)
        if s is None or s.p_value > self.s.alpha:
            return None
        if s.median_ratio < SIZE_MIN_RATIO and s.upper_ratio < SIZE_MIN_RATIO:
            return None
        m0 = two_sample.hist_quantile(before, 0.5, size_value) or 0.0
        m1 = two_sample.hist_quantile(after, 0.5, size_value) or 0.0
        q0 = two_sample.hist_quantile(before, 0.9, size_value) or 0.0
        q1 = two_sample.hist_quantile(after, 0.9, size_value) or 0.0
        return "data_exposure", s.p_value, m1, m0, {
            "p90_bytes": round(q1), "baseline_p90_bytes": round(q0),
            "median_ratio": round(s.median_ratio, 3), "p90_ratio": round(s.upper_ratio, 3)}

    def learn(self, state: _State, win: SeriesWindow, flagged: bool) -> None:
        self.learn_assessed(state, win, flagged, None)

    def learn_assessed(self, state: _State, win: SeriesWindow, flagged: bool,
                       period: Period | None) -> None:
        """:meth:`learn`, given this window's :meth:`assess` period (None: work it out)."""
        # Flagged windows are summed too: the comparison is between versions serving
        # at the same time, not against a baseline an anomaly could teach.
        ver0, vers = slot(win.stats, VER0), slot(win.stats, VERS)
        if ver0 is None and not vers:
            return
        p = period if period is not None else advance(state, win)
        seen = state.seen
        for v in (ver0, *(vers or ())):
            if v is not None and v not in seen:
                seen[v] = win.start
                if len(seen) > MAX_VERSIONS:
                    del seen[min(seen, key=lambda k: seen[k])]
        state.older, state.newer, state.old, state.new = p.older, p.newer, p.old, p.new
        state.mixed, state.idle, state.since = p.mixed, p.idle, p.since


def _version(e: AccessEvent) -> str | None:
    v = e[VERSION]
    return v if isinstance(v, str) else None
