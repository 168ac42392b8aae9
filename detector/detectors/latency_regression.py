"""latency_regression: more requests slower than the baseline's p90 than chance allows."""

from __future__ import annotations

from collections import deque

from scipy.special import bdtrc

from detector.config import DetectorSettings
from detector.detectors.base import SeriesWindow, Signal, score_from_p
from detector.detectors.baselines.latency import LatencyBaseline
from detector.kinds import Kind
from detector.windows.stats import HIST, NBUCKETS, SAMPLES, TIMED, bucket_value, quantile

HORIZONS = (1, 5)
REF_QUANTILE = 0.9


class _State:
    __slots__ = ("baseline", "recent", "seen", "streak")

    def __init__(self) -> None:
        self.baseline = LatencyBaseline()
        self.recent: deque[list[int]] = deque(maxlen=max(HORIZONS))
        self.seen = 0
        self.streak = 0


class LatencyRegressionDetector:
    """Latency percentiles above baseline, tested on exceedances of the baseline p90.

    Durations of 5xx answers are not counted (timeouts are an error symptom,
    reported by error_surge). Under the baseline about 10 % of requests are slower than its p90; a
    regression makes that share grow. The binomial test on that share is
    robust to the long tails of latency, and an effect size on p95 (ratio and
    absolute delta) keeps tiny but significant shifts from paging.

    >>> from detector.config import DetectorSettings
    >>> from detector.detectors.base import SeriesKey, SeriesWindow
    >>> from detector.windows.stats import new_series_stats, HIST, TIMED
    >>> det = LatencyRegressionDetector(DetectorSettings(warmup_windows=5))
    >>> st = det.new_state()
    >>> def win(i, bucket):
    ...     s = new_series_stats(); s[0] = s[TIMED] = 100
    ...     s[HIST][bucket] = 80; s[HIST][bucket + 3] = 20
    ...     return SeriesWindow(SeriesKey("s", "GET", "/x"), i * 60.0, i * 60.0 + 60, s, 1.0)
    >>> for i in range(20):
    ...     w = win(i, 30)
    ...     _ = det.check(st, w); det.learn(st, w, False)
    >>> det.check(st, win(20, 40)).kind
    'latency_regression'
    """

    kinds: tuple[Kind, ...] = ("latency_regression",)

    def __init__(self, settings: DetectorSettings) -> None:
        self.s = settings

    def new_state(self) -> _State:
        return _State()

    def check(self, state: _State, win: SeriesWindow) -> Signal | None:
        n = int(win.stats[TIMED])
        if state.seen < self.s.warmup_windows or n == 0 or state.baseline.total < 50:
            return None
        base = state.baseline
        b = base.threshold_bucket(REF_QUANTILE)
        q0 = max(0.02, base.share_above(b))
        base_p95 = base.quantile(0.95) or bucket_value(b)
        hist = list(state.recent)
        cur: list[int] = win.stats[HIST]
        for h in HORIZONS:
            if h > 1:
                if len(hist) < h - 1:
                    continue
                agg = list(cur)
                for old in hist[-(h - 1) :]:
                    for i in range(NBUCKETS):
                        agg[i] += old[i]
            else:
                agg = cur
            N = sum(agg)
            K = sum(agg[b + 1 :])
            if self.s.ratio_min_requests > N or self.s.ratio_min_hits > K:
                continue
            cur_n = sum(cur)
            if h > 1 and (cur_n == 0 or sum(cur[b + 1 :]) / cur_n < 1.5 * q0):
                continue  # the current window must carry the regression itself
            p95 = quantile(agg, 0.95) or 0.0
            cur_p95 = quantile(cur, 0.95) or 0.0
            if (
                p95 < self.s.latency_min_ratio * base_p95
                or cur_p95 < self.s.latency_min_ratio * base_p95
            ):
                continue
            if p95 - base_p95 < self.s.latency_min_delta_seconds:
                continue
            p = float(bdtrc(K - 1, N, q0))
            if p <= self.s.alpha:
                k = win.key
                slow = sorted(
                    (e for e in win.stats[SAMPLES] if e.duration is not None),
                    key=lambda e: -(e.duration or 0.0),
                )
                return Signal(
                    kind="latency_regression",
                    service=k.service,
                    route=k.route,
                    method=k.method,
                    client=None,
                    start=win.start,
                    end=win.end,
                    score=score_from_p(p),
                    observed=round(cur_p95, 4),
                    baseline=round(base_p95, 4),
                    requests=n,
                    p_value=p,
                    extra={
                        "horizon_windows": h,
                        "p50": quantile(cur, 0.5),
                        "baseline_p50": base.quantile(0.5),
                        "share_above_baseline_p90": round(K / N, 4),
                        "window_seconds": win.end - win.start,
                    },
                    samples=slow,
                )
        return None

    def learn(self, state: _State, win: SeriesWindow, flagged: bool) -> None:
        state.seen += 1
        h: list[int] = win.stats[HIST]
        if int(win.stats[TIMED]) == 0:
            return
        state.recent.append(list(h))
        if flagged:
            state.streak += 1
            if state.streak < self.s.relearn_after_windows:
                return
            state.baseline = LatencyBaseline()  # a change this long is the new normal
            state.streak = 0
        else:
            state.streak = 0
        state.baseline.learn(h)
