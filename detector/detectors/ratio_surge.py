"""Share-of-requests surges (5xx, other 4xx, 401/403) tested against a binomial baseline."""

from __future__ import annotations

from collections import deque

from scipy.special import bdtrc

from detector.detectors.base import SeriesWindow, Signal, score_from_p
from detector.detectors.baselines.ratio import RatioBaseline
from detector.kinds import Kind
from detector.windows.stats import COUNT, ERR_SAMPLES, SAMPLES

HORIZONS = (1, 5)  # one window, and five for low-volume routes


class _State:
    __slots__ = ("baseline", "recent", "seen", "streak", "pending")

    def __init__(self, prior: float) -> None:
        self.baseline = RatioBaseline(prior=prior)
        self.recent: deque[tuple[int, int]] = deque(maxlen=max(HORIZONS))
        self.seen = 0
        self.streak = 0
        self.pending = (0, 0)  # unused since check() became pure; snapshots holding it still load


class RatioSurgeDetector:
    """A share of requests (``stats[index] / stats[COUNT]``) far above its baseline.

    Raised when the share passes the baseline by ``min_increase`` (absolute),
    by half again relatively, with at least ``min_hits`` hits in ``min_requests``
    requests, and a one-sided binomial p-value below ``alpha``.

    >>> from detector.detectors.base import SeriesKey, SeriesWindow
    >>> from detector.windows.stats import new_series_stats, S5XX
    >>> det = RatioSurgeDetector("error_surge", S5XX, min_increase=0.04, warmup=5)
    >>> st = det.new_state()
    >>> def win(i, n, k):
    ...     s = new_series_stats(); s[0] = n; s[S5XX] = k
    ...     key = SeriesKey("pay", "POST", "/refunds")
    ...     return SeriesWindow(key, i * 60.0, i * 60.0 + 60, s, 1.0)
    >>> for i in range(20):
    ...     w = win(i, 200, i % 2)
    ...     _ = det.check(st, w); det.learn(st, w, False)
    >>> round(det.check(st, win(20, 200, 30)).observed, 3)
    0.15
    """

    def __init__(
        self,
        kind: Kind,
        index: int,
        *,
        min_increase: float,
        warmup: int = 30,
        min_requests: int = 20,
        min_hits: int = 5,
        alpha: float = 1e-6,
        prior: float = 0.005,
        relearn_after: int = 120,
    ) -> None:
        self.kinds: tuple[Kind, ...] = (kind,)
        self.kind = kind
        self.index = index
        self.min_increase = min_increase
        self.warmup = warmup
        self.min_requests = min_requests
        self.min_hits = min_hits
        self.alpha = alpha
        self.prior = prior
        self.relearn_after = relearn_after

    def new_state(self) -> _State:
        return _State(self.prior)

    def check(self, state: _State, win: SeriesWindow) -> Signal | None:
        n = int(win.stats[COUNT])
        k = int(win.stats[self.index])
        if state.seen < self.warmup or k < 1:
            return None
        p0 = state.baseline.share()
        hist = list(state.recent)
        for h in HORIZONS:
            if h > 1:
                if len(hist) < h - 1:
                    continue
                K = k + sum(a for a, _ in hist[-(h - 1) :])
                N = n + sum(b for _, b in hist[-(h - 1) :])
            else:
                K, N = k, n
            if self.min_requests > N or self.min_hits > K:
                continue
            share = K / N
            # The current window must carry the surge too, or an old burst would
            # keep re-raising through the multi-window sum.
            if (
                share < p0 + self.min_increase
                or share < 1.5 * p0
                or k / max(n, 1) < p0 + self.min_increase / 2
            ):
                continue
            p = float(bdtrc(K - 1, N, p0))
            if p <= self.alpha:
                key = win.key
                samples = list(win.stats[ERR_SAMPLES]) or list(win.stats[SAMPLES])
                return Signal(
                    kind=self.kind,
                    service=key.service,
                    route=key.route,
                    method=key.method,
                    client=None,
                    start=win.start,
                    end=win.end,
                    score=score_from_p(p),
                    observed=round(k / max(n, 1), 4),
                    baseline=round(p0, 4),
                    requests=n,
                    p_value=p,
                    extra={"horizon_windows": h, "hits": k, "window_seconds": win.end - win.start},
                    samples=samples,
                )
        return None

    def learn(self, state: _State, win: SeriesWindow, flagged: bool) -> None:
        k, n = int(win.stats[self.index]), int(win.stats[COUNT])
        state.seen += 1
        state.recent.append((k, n))
        if flagged:
            state.streak += 1
            if state.streak >= self.relearn_after:
                state.baseline.reset_to(k, n)
                state.streak = 0
            return
        state.streak = 0
        state.baseline.learn(k, n)
