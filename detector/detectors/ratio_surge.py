"""Share-of-requests surges (5xx, other 4xx, 401/403), exact small-count tests on growing spans.

Busy routes are tested on their last window and their last five windows with
traffic, against the baseline share with the exact binomial tail. A quiet route
(a request a minute, minutes with none) holds too few requests there: the span
grows to 15, 30 and 60 windows (:mod:`ratio_history`), and to the span since
the service's deployment, until it holds :data:`GROW_UNTIL` requests. There the
hits are tested against the baseline's Beta pseudo-counts with the exact
beta-binomial tail (:mod:`small_counts`): a quiet route's baseline is known
from few requests, and the binomial would take it as exact.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from detector.detectors.base import SeriesWindow, Signal, score_from_p
from detector.detectors.baselines.ratio import RatioBaseline
from detector.detectors.ratio_history import (
    BLOCK,
    LONG_HORIZONS,
    SPAN_BLOCKS,
    expire,
    forgive,
    owed_before,
    record,
    totals,
)
from detector.detectors.small_counts import betabinom_sf, binom_sf
from detector.kinds import Kind
from detector.windows.stats import COUNT, ERR_SAMPLES, SAMPLES

HORIZONS = (1, 5)  # one window, and the last five with traffic
GROW_UNTIL = 100  # requests: a span holding this many is enough, no longer one is tried
# Requests the baseline must have learned before it judges: a quiet route's first
# windows are learned only once they leave the longest span, and until then its
# share is the prior's, which a route failing 10 % of the time by nature is far from.
LEARNED = 100
# ... except the span since a deployment, judged against the previous version: the
# requests learned and those from before the deploy that the history still holds
# (a bad deploy an hour into a quiet route's life). This many of them at least.
PREVIOUS_VERSION = 30
# The span since a deploy, the cause looked for, holds as few requests as the surge
# had time to bring: it needs this many hits in this many requests (not min_hits in
# min_requests), the exact tail's alpha being the guard (4 of 18 on a 0.1 % route).
DEPLOY_HITS, DEPLOY_REQUESTS = 4, 15
# A long span fires only while its last 6-10 windows show the surge on their own
# at this level: an hour-long span would otherwise re-raise a surge that ended.
CARRY_ALPHA = 0.01


class _State:
    # ``history`` (the quiet-route blocks) is missing from snapshots written before
    # it existed: read through :func:`_history`.
    __slots__ = ("baseline", "recent", "seen", "streak", "pending", "history")

    def __init__(self, prior: float) -> None:
        self.baseline = RatioBaseline(prior=prior)
        self.recent: deque[tuple[int, int]] = deque(maxlen=max(HORIZONS))
        self.seen = 0
        self.streak = 0
        self.pending = (0, 0)  # unused since check() became pure; snapshots holding it still load
        self.history: deque[list[int]] = deque()


def _history(state: _State) -> deque[list[int]] | None:
    return getattr(state, "history", None)


def _deploy_window(win: SeriesWindow, size: float) -> int | None:
    return None if win.deploy is None else int(win.deploy // size)


class RatioSurgeDetector:
    """A share of requests (``stats[index] / stats[COUNT]``) far above its baseline.

    Raised when the share passes the baseline by ``min_increase`` (absolute),
    by half again relatively, with at least ``min_hits`` hits in ``min_requests``
    requests, and a one-sided p-value below ``alpha`` (binomial on the short spans,
    beta-binomial on the long ones of quiet routes).

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

    A quiet route (2 requests a minute, 1 % failing) with a quarter failing:
    the span grows until it holds enough requests.

    >>> st = det.new_state()
    >>> for i in range(600):
    ...     w = win(i, 2, int(i % 50 == 0))
    ...     _ = det.check(st, w); det.learn(st, w, False)
    >>> for i in range(600, 630):  # one request in four fails from window 600 on
    ...     w = win(i, 2, int(i % 2 == 0))
    ...     sig = det.check(st, w); det.learn(st, w, sig is not None)
    ...     if sig: break
    >>> x = sig.extra
    >>> i, x["horizon_hits"], x["horizon_requests"], x["horizon_seconds"]
    (612, 7, 36, 1080.0)
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

    def _surges(self, k: int, n: int, p0: float, since_deploy: bool = False) -> bool:
        """Enough hits, in enough requests, far enough above the baseline share."""
        hits, requests = self.min_hits, self.min_requests
        if since_deploy:
            hits, requests = min(hits, DEPLOY_HITS), min(requests, DEPLOY_REQUESTS)
        if requests > n or hits > k:
            return False
        share = k / n
        return share >= p0 + self.min_increase and share >= 1.5 * p0

    def check(self, state: _State, win: SeriesWindow) -> Signal | None:
        n = int(win.stats[COUNT])
        k = int(win.stats[self.index])
        if state.seen < self.warmup or k < 1:
            return None
        if state.baseline.n < LEARNED:
            return self._check_long(state, win, k, n, young=True)
        p0 = state.baseline.share()
        hist = list(state.recent)
        widest = n + sum(m for _, m in hist[-(max(HORIZONS) - 1) :])
        for h in HORIZONS:
            if h > 1:
                if len(hist) < h - 1:
                    continue
                K = k + sum(x for x, _ in hist[-(h - 1) :])
                N = n + sum(m for _, m in hist[-(h - 1) :])
            else:
                K, N = k, n
            # The current window must carry the surge too, or an old burst would
            # keep re-raising through the multi-window sum.
            if not self._surges(K, N, p0) or k / max(n, 1) < p0 + self.min_increase / 2:
                continue
            p = binom_sf(K, N, p0)
            if p <= self.alpha:
                span = h * (win.end - win.start)
                return self._signal(win, k / max(n, 1), p0, p, h, span, K, N)
        if widest >= GROW_UNTIL:
            return None
        return self._check_long(state, win, k, n)

    def _check_long(self, state: _State, win: SeriesWindow, k: int, n: int,
                    young: bool = False) -> Signal | None:
        """The growing spans of a quiet route; ``young`` (the baseline has not learned
        LEARNED requests yet): the span since a deployment only."""
        history = _history(state)
        size = win.end - win.start
        if not history or size <= 0:
            return None
        widx = int(win.start // size)
        spans = [] if young else [(h, (widx - h + 1) // BLOCK * BLOCK) for h in LONG_HORIZONS]
        deployed = _deploy_window(win, size)
        if deployed is not None and widx - max(LONG_HORIZONS) < deployed <= widx:
            spans.insert(0, (0, deployed))  # since the deploy: no traffic from before it
        last_n = -1
        for h, first in spans:
            kh, nh = totals(history, first)
            kh, nh = kh + k, nh + n
            a, b = state.baseline.beta()
            if not h:
                # The previous version: what was learned, and what it served before the
                # deploy that is still waiting in the history to be learned.
                kp, np_ = owed_before(history, first)
                if young and state.baseline.n + np_ < PREVIOUS_VERSION:
                    return None
                a, b = a + kp, b + np_ - kp
            p0 = a / (a + b)
            if (last_n != nh and self._surges(kh, nh, p0, since_deploy=not h)
                    and self._carries(history, widx, k, n, p0)):
                p = betabinom_sf(kh, nh, a, b)
                if p <= self.alpha:
                    span = (widx - first + 1) * size
                    return self._signal(win, kh / nh, p0, p, h or widx - first + 1, span, kh, nh,
                                        since_deploy=not h)
            if nh >= GROW_UNTIL and h:
                break
            last_n = nh
        return None

    def _carries(self, history: deque[list[int]], widx: int, k: int, n: int,
                 p0: float) -> bool:
        """Whether the current and the previous block (6 to 10 windows) show the surge
        on their own: a surge that ended stops firing within 10 windows."""
        kr, nr = totals(history, (widx // BLOCK - 1) * BLOCK)
        kr, nr = kr + k, nr + n
        return kr / nr >= p0 + self.min_increase / 2 and binom_sf(kr, nr, p0) <= CARRY_ALPHA

    def _signal(self, win: SeriesWindow, observed: float, p0: float, p: float, h: int,
                span: float, hits: int, requests: int, since_deploy: bool = False) -> Signal:
        key = win.key
        samples = list(win.stats[ERR_SAMPLES]) or list(win.stats[SAMPLES])
        extra: dict[str, Any] = {
            "horizon_windows": h,
            "horizon_seconds": span,
            "horizon_hits": hits,
            "horizon_requests": requests,
            "hits": int(win.stats[self.index]),
            "window_seconds": win.end - win.start,
        }
        if since_deploy:
            extra["since_deploy"] = True
        return Signal(
            kind=self.kind,
            service=key.service,
            route=key.route,
            method=key.method,
            client=None,
            start=win.start,
            end=win.end,
            score=score_from_p(p),
            observed=round(observed, 4),
            baseline=round(p0, 4),
            requests=int(win.stats[COUNT]),
            p_value=p,
            extra=extra,
            samples=samples,
        )

    def learn(self, state: _State, win: SeriesWindow, flagged: bool) -> None:
        k, n = int(win.stats[self.index]), int(win.stats[COUNT])
        history = _history(state)
        # Only this detector's own evidence is forgiven, not another detector's flag.
        mine = flagged and bool(history) and self.check(state, win) is not None
        state.seen += 1
        state.recent.append((k, n))
        if history is None:
            state.history = history = deque()
        size = win.end - win.start
        widx = int(win.start // size) if size > 0 else 0
        # Quiet windows are learned once they leave the longest span (the start of a
        # slow surge must not become normal before it is flagged); busy ones now.
        quiet = n < self.min_requests
        if quiet or history:
            record(history, widx, k, n, defer=quiet and not flagged,
                   deployed=_deploy_window(win, size) if size > 0 else None)
        if flagged:
            if mine:
                forgive(history)
            state.streak += 1
            if state.streak >= self.relearn_after:
                state.baseline.reset_to(k, n)
                state.streak = 0
        else:
            state.streak = 0
            if not quiet:
                state.baseline.learn(k, n)
        if not history:
            return
        busy = not quiet and sum(m for _, m in state.recent) >= GROW_UNTIL
        # A busy stretch is tested on short spans only: it needs no history.
        until = widx + 1 if busy else (widx // BLOCK - SPAN_BLOCKS) * BLOCK
        for kk, nn, m in expire(history, until):
            state.baseline.learn(kk, nn, m)
