"""latency_regression: more requests slower than the baseline's p90 than chance allows."""

from __future__ import annotations

import dataclasses
from collections import deque

from scipy.special import bdtrc

from detector.config import DetectorSettings
from detector.detectors import latency_drift
from detector.detectors.base import SeriesWindow, Signal, score_from_p
from detector.detectors.baselines.latency import LatencyBaseline
from detector.detectors.change import BernoulliCusum
from detector.kinds import Kind
from detector.windows.stats import HIST, SAMPLES, TIMED, bucket_value, quantile

HORIZONS = (1, 5)
REF_QUANTILE = 0.9


class _State:
    __slots__ = ("baseline", "recent", "seen", "streak",
                 "deploy", "ref", "ref_since", "ref_deploy", "cusum", "onset", "acc")

    def __init__(self) -> None:
        self.baseline = LatencyBaseline()
        self.recent: deque[list[int]] = deque(maxlen=max(HORIZONS))
        self.seen = 0
        self.streak = 0
        # Slow-drift fields (detector.detectors.latency_drift); snapshots written
        # before them lack them, and _drift() starts those afresh.
        self.deploy: float | None = None
        self.ref: latency_drift.Ref | None = None
        self.ref_since = 0.0
        self.ref_deploy: float | None = None
        self.cusum = 0.0
        self.onset: float | None = None
        self.acc: list[float] | None = None  # the drift's histogram since onset


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
        return self.assess(state, win)[0]

    def assess(self, state: _State, win: SeriesWindow
               ) -> tuple[Signal | None, latency_drift.Drift | None]:
        """:meth:`check`, with the drift :meth:`learn_assessed` takes back when it is the
        one learn works out (AssessingDetector)."""
        n = int(win.stats[TIMED])
        if state.seen < self.s.warmup_windows or n == 0 or state.baseline.total < 50:
            return None, None
        # A step is judged against the decayed baseline first; only a change that
        # never stood out from it (a drift) is judged against the frozen reference.
        sig = self._step(state, win, n)
        drift = self._drift(state, win)
        # learn counts the window as seen before working the drift out: the same
        # drift past the warm-up, and on a state with its drift fields (a snapshot's
        # from before them is upgraded first).
        memo = drift if hasattr(state, "cusum") else None
        if sig is None:
            return self._slow(state, win, n, drift), memo
        since = drift.onset_deploy()
        if since is None:
            return sig, memo
        # A drift that grew into a step later than the deploy's suspect window.
        return dataclasses.replace(sig, extra={**sig.extra, "drift_since": since,
                                               "change_start": drift.onset}), memo

    def _step(self, state: _State, win: SeriesWindow, n: int) -> Signal | None:
        """A window (or the last few) well above the decayed baseline."""
        base = state.baseline
        b = base.threshold_bucket(REF_QUANTILE)
        q0 = max(0.02, base.share_above(b))
        base_p95: float | None = None  # read once a horizon holds enough slow requests
        hist = list(state.recent)
        cur: list[int] = win.stats[HIST]
        cur_n = sum(cur)
        for h in HORIZONS:
            if h > 1:
                if len(hist) < h - 1:
                    continue
                # The current window must carry the regression itself: judged before
                # the merge, which most windows never need.
                if cur_n == 0 or sum(cur[b + 1 :]) / cur_n < 1.5 * q0:
                    continue
                agg = _merged(cur, hist[-(h - 1) :])
            else:
                agg = cur
            N = sum(agg)
            K = sum(agg[b + 1 :])
            if self.s.ratio_min_requests > N or self.s.ratio_min_hits > K:
                continue
            if base_p95 is None:
                base_p95 = base.quantile(0.95) or bucket_value(b)
            p95 = quantile(agg, 0.95) or 0.0
            cur_p95 = quantile(cur, 0.95) or 0.0
            if not self._large(p95, base_p95) or cur_p95 < self.s.latency_min_ratio * base_p95:
                continue
            p = float(bdtrc(K - 1, N, q0))
            if p <= self.s.alpha:
                return self._signal(win, n, p, cur_p95, base_p95, base.quantile(0.5), {
                    "horizon_windows": h, "share_above_baseline_p90": round(K / N, 4),
                    # what the binomial test judged (`detector explain` recomputes from it)
                    "horizon_slow": K, "horizon_requests": N,
                    "expected_share_above": round(q0, 4)})
        return None

    def _slow(self, state: _State, win: SeriesWindow, n: int,
              d: latency_drift.Drift) -> Signal | None:
        """A drift the CUSUM against the frozen reference has accumulated."""
        if d.ref is None or d.onset is None or d.cusum < latency_drift.threshold(self.s.alpha):
            return None
        b, _, ref_p95 = d.ref
        floor = max(self.s.latency_min_ratio * ref_p95,
                    ref_p95 + self.s.latency_min_delta_seconds)
        # The effect is read on the last few windows (quick at volume) or on the
        # drift's decayed histogram (enough requests on a quiet route).
        recent = _merged(win.stats[HIST], list(state.recent)[-(max(HORIZONS) - 1) :])
        drifted = latency_drift.span(getattr(state, "acc", None), win.stats[HIST],
                                     d.onset == win.start)
        for agg in (recent, drifted):
            N = sum(agg)
            K = sum(agg[b + 1 :])
            p95 = latency_drift.quantile_between(agg, 0.95) or 0.0
            if (self.s.ratio_min_requests <= N and self.s.ratio_min_hits <= K
                    and p95 >= floor and latency_drift.beyond_floor(agg, floor)):
                break
        else:
            return None
        # Against the previous version's reference, a change that never stood out
        # as a step began with that deploy, however long it took to grow.
        since = d.ref_deploy
        sig = self._signal(win, n, BernoulliCusum.p_value(d.cusum), p95, ref_p95, None, {
            "horizon_windows": max(HORIZONS), "share_above_baseline_p90": round(K / N, 4),
            "cusum": round(d.cusum, 2), "change_start": d.onset,
            **({"drift_since": since} if since is not None else {})})
        return dataclasses.replace(sig, start=d.onset)

    def _large(self, p95: float, base_p95: float) -> bool:
        """The effect-size floor: a significant but small slowdown does not page."""
        return (p95 >= self.s.latency_min_ratio * base_p95
                and p95 - base_p95 >= self.s.latency_min_delta_seconds)

    @staticmethod
    def _signal(win: SeriesWindow, n: int, p: float, observed: float, base_p95: float,
                base_p50: float | None, extra: dict[str, object]) -> Signal:
        k = win.key
        cur: list[int] = win.stats[HIST]
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
            observed=round(observed, 4),
            baseline=round(base_p95, 4),
            requests=n,
            p_value=p,
            extra={
                "horizon_windows": extra.pop("horizon_windows"),
                "p50": quantile(cur, 0.5),
                "baseline_p50": base_p50,
                **extra,
                "window_seconds": win.end - win.start,
            },
            samples=slow,
        )

    def _drift(self, state: _State, win: SeriesWindow) -> latency_drift.Drift:
        st = state if hasattr(state, "cusum") else _fresh_drift(state.baseline)
        ready = state.seen >= self.s.warmup_windows
        return latency_drift.advance(st, win.start, win.end, win.deploy, win.stats[HIST],
                                     int(win.stats[TIMED]), ready, self.s.latency_drift_seconds)

    def learn(self, state: _State, win: SeriesWindow, flagged: bool) -> None:
        self.learn_assessed(state, win, flagged, None)

    def learn_assessed(self, state: _State, win: SeriesWindow, flagged: bool,
                       drift: latency_drift.Drift | None) -> None:
        """:meth:`learn`, given this window's :meth:`assess` drift (None: work it out)."""
        state.seen += 1
        h: list[int] = win.stats[HIST]
        if int(win.stats[TIMED]) == 0:
            return
        if not hasattr(state, "cusum"):  # a snapshot from before the drift fields
            latency_drift.store(state, latency_drift.Drift(None, 0.0, None, 0.0, None, None))
            state.acc = None
        d = drift if drift is not None else self._drift(state, win)
        latency_drift.store(state, d)
        state.acc = (latency_drift.span(state.acc, h, d.onset == win.start)
                     if d.cusum > 0.0 else None)
        state.recent.append(list(h))
        if flagged:
            state.streak += 1
            if state.streak < self.s.relearn_after_windows:
                return
            state.baseline = LatencyBaseline()  # a change this long is the new normal
            state.streak = 0
            state.ref, state.ref_deploy, state.cusum, state.onset = None, None, 0.0, None
            state.acc = None
        else:
            state.streak = 0
        state.baseline.learn(h)


def _merged(cur: list[int], older: list[list[int]]) -> list[int]:
    """Bucket-wise sum of histograms (zip and sum run in C: this is per series-window)."""
    return list(map(sum, zip(cur, *older, strict=True)))


def _fresh_drift(baseline: LatencyBaseline) -> _State:
    """The drift fields of a state restored from before them: none yet."""
    st = _State()
    st.baseline = baseline
    return st
