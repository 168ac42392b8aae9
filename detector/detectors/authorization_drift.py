"""authorization_drift: after a deploy, a route's denials (401 or 403) turn into successes.

A route that refuses a steady share of its requests (clients asking for other
accounts' objects, anonymous callers) and stops refusing them after a release
lost a permission check. Two other things also make denials fall, and neither
is a loosened check: an ordinary dip (no deploy: never judged here) and the
denied callers going away (the requests vanish instead of succeeding).

So, for ``WATCH_S`` after each deploy, the route's traffic since the deploy is
compared with a reference frozen at the deploy: the previous version's recent
traffic (a time-decayed sum over the last hours, learned from unflagged windows
only). The denial share of one status must have collapsed (to a third or less,
two-sample test at ``alpha``), and the route's successes, counted per request
of the whole service (a volume reference that follows the day's traffic), must
have risen by at least half of what the lost denials would add if they had
all turned into successes, with a one-sided test at ``CONVERT_ALPHA``. Denied
callers who simply stop leave that ratio where it was.

The reference spans hours, so it may still remember the version before the
previous one: a route loosened two deploys ago must not be reported again at
the next deploy. The previous version's own traffic (since its deploy) must
therefore have denied as the reference did, where it holds enough requests to say.
"""

from __future__ import annotations

import math
from typing import Any

from detector.config import DetectorSettings
from detector.detectors.base import SeriesWindow, Signal, score_from_p
from detector.detectors.two_sample import share_above, share_below
from detector.kinds import Kind
from detector.windows.stats import COUNT, S4XX, S5XX, S401, S404, SAMPLES, SAUTH, slot

WATCH_S = 3 * 3600.0  # how long after a deploy its route traffic is judged
SETTLE_S = 120.0  # windows starting this soon after a deploy mix both versions (rollout)
REF_TAU_S = 3 * 3600.0  # e-folding time of the reference: the previous version's last hours
MIN_SHARE = 0.03  # a denial share the reference must hold to be worth watching ...
MIN_DENIALS = 20.0  # ... on this many (decayed) denials
COLLAPSE = 1 / 3  # the post-deploy share must fall to this fraction of the reference's
MIN_POST = 30  # post-deploy requests before anything is judged
CONVERT_MIN = 0.5  # share of the lost denials that must reappear as successes
CONVERT_ALPHA = 1e-3  # the rise of successes per service request, one-sided
# A window whose service sends this many times its recent level holds a flood elsewhere
# in the service (credential stuffing on the login route): its volume says nothing of this
# route's share, so its successes and service requests are left out of the ratio.
JUMP = 1.5
LEVEL_TAU_S = 1800.0  # e-folding time of the service's recent level per window
# Count slots of the reference and post-deploy sums: requests, 401s, 403s, then over
# steady windows only: successes, service requests, requests.
N, D401, D403, OK, SVC, NS = range(6)
SLOTS = 6


class _State:
    __slots__ = ("roll", "roll_at", "since", "deploy", "ref", "prev", "post", "post_start",
                 "fired", "level")

    def __init__(self) -> None:
        self.roll = [0.0] * SLOTS  # decayed counts of unflagged windows
        self.roll_at: float | None = None  # end of the last window in ``roll``
        self.since = [0] * SLOTS  # unflagged counts of the version serving now
        self.deploy: float | None = None  # the deploy ``ref`` was frozen at
        self.ref: list[float] | None = None
        self.prev = [0] * SLOTS  # ``since`` as it was at the deploy: the previous version's
        self.post = [0] * SLOTS  # counts since the deploy (after SETTLE_S)
        self.post_start: float | None = None  # start of the first counted window
        self.fired: float | None = None  # the deploy already reported
        self.level = [0.0, 0.0, 0.0]  # decayed service requests, windows; last window end


def _level(st: _State) -> float | None:
    """The service's recent requests per window (None until a few windows are known)."""
    total, windows, _ = st.level
    return total / windows if windows >= 5.0 else None


def _counts(st: _State, win: SeriesWindow) -> list[int]:
    """One window's counts in the slot layout (see :data:`N`)."""
    s = win.stats
    n = int(s[COUNT])
    auth = int(s[SAUTH])
    d401 = min(auth, int(slot(s, S401) or 0))
    ok = max(n - int(s[S5XX]) - int(s[S4XX]) - auth - int(s[S404]), 0)
    svc = max(int(win.service_requests), n)
    level = _level(st)
    if level is not None and svc > JUMP * level:
        return [n, d401, auth - d401, 0, 0, 0]
    return [n, d401, auth - d401, ok, svc, n]


class _View:
    """The reference and the post-deploy sums once ``win`` is counted (pure)."""

    __slots__ = ("deploy", "fresh", "ref", "prev", "post", "post_start")

    def __init__(self, st: _State, win: SeriesWindow) -> None:
        dep = win.deploy
        self.deploy = dep
        self.fresh = dep is not None and dep != st.deploy
        self.prev = st.since if self.fresh else st.prev
        if dep is None or win.end - dep > WATCH_S:
            self.ref, self.post, self.post_start = None, [0] * SLOTS, None
            return
        if self.fresh:  # a new deploy: freeze what the previous version did
            self.ref = list(st.roll) if st.roll_at is not None else None
            self.post, self.post_start = [0] * SLOTS, None
        else:
            self.ref, self.post, self.post_start = st.ref, list(st.post), st.post_start
        if win.start >= dep + SETTLE_S:
            self.post = [a + b for a, b in zip(self.post, _counts(st, win), strict=True)]
            if self.post_start is None:
                self.post_start = win.start


class AuthorizationDriftDetector:
    """A route's 401 or 403 share collapses after a deploy and its denials become successes.

    >>> from detector.config import DetectorSettings
    >>> from detector.detectors.base import SeriesKey, SeriesWindow
    >>> from detector.windows.stats import new_series_stats, COUNT, SAUTH
    >>> det = AuthorizationDriftDetector(DetectorSettings())
    >>> st = det.new_state()
    >>> def win(i, denied, deploy=None):
    ...     s = new_series_stats(); s[COUNT] = 20; s[SAUTH] = denied
    ...     key = SeriesKey("bank", "GET", "/v1/accounts/{id}/statements")
    ...     return SeriesWindow(key, i * 60.0, i * 60 + 60.0, s, 1.0, deploy, 200)
    >>> for i in range(180):  # four requests in twenty refused (403)
    ...     w = win(i, 4); _ = det.check(st, w); det.learn(st, w, False)
    >>> for i in range(180, 300):  # deploy at 3 h: nothing refused any more
    ...     w = win(i, 0, deploy=10800.0)
    ...     sig = det.check(st, w); det.learn(st, w, sig is not None)
    ...     if sig: break
    >>> sig.kind, sig.extra["status"], sig.baseline, sig.observed
    ('authorization_drift', 403, 0.2, 0.0)
    """

    kinds: tuple[Kind, ...] = ("authorization_drift",)

    def __init__(self, settings: DetectorSettings) -> None:
        self.s = settings

    def new_state(self) -> _State:
        return _State()

    def check(self, state: _State, win: SeriesWindow) -> Signal | None:
        return self.assess(state, win)[0]

    def assess(self, state: _State, win: SeriesWindow
               ) -> tuple[Signal | None, tuple[_View, Signal | None]]:
        """:meth:`check`, with the view and verdict :meth:`learn_assessed` takes back
        (AssessingDetector)."""
        v = _View(state, win)
        if v.ref is None or v.deploy is None or state.fired == v.deploy:
            return None, (v, None)
        sig = self._judge(win, v)
        return sig, (v, sig)

    def _judge(self, win: SeriesWindow, v: _View) -> Signal | None:
        assert v.ref is not None and v.deploy is not None
        ref, post, prev, deploy, post_start = v.ref, v.post, v.prev, v.deploy, v.post_start
        n0, n1 = ref[N], post[N]
        if n1 < MIN_POST or n0 <= 0 or ref[SVC] <= 0 or post[SVC] <= 0 or ref[NS] <= 0:
            return None
        best: tuple[float, int, dict[str, Any]] | None = None
        for status, i in ((401, D401), (403, D403)):
            k0, k1 = ref[i], post[i]
            d0, d1 = k0 / n0, k1 / n1
            if d0 < MIN_SHARE or k0 < MIN_DENIALS or d1 > COLLAPSE * d0:
                continue
            if k1 / post[SVC] > COLLAPSE * k0 / ref[SVC]:
                continue  # as many denials per service request: diluted by a rise, not loosened
            if prev[N] >= MIN_POST and prev[i] < 0.5 * d0 * prev[N] and share_below(
                    prev[i], prev[N], round(k0), round(n0)) <= CONVERT_ALPHA:
                continue  # the previous version had already stopped denying
            p = share_below(k1, n1, round(k0), round(n0))
            if p > self.s.alpha:
                continue
            conv = self._converted(ref, post, d0 - d1)
            if conv is None:
                continue
            if best is None or p < best[0]:
                best = (p, status, {"share_before": round(d0, 4), "share_after": round(d1, 4),
                                    **conv})
        if best is None:
            return None
        p, status, ex = best
        key = win.key
        return Signal(
            kind="authorization_drift", service=key.service, route=key.route, method=key.method,
            client=None, start=win.start, end=win.end, score=score_from_p(p),
            observed=ex["share_after"], baseline=ex["share_before"], requests=n1, p_value=p,
            extra={"status": status, **ex, "requests_before": round(n0),
                   "requests_after": n1, "denials_401_before": round(ref[D401]),
                   "denials_403_before": round(ref[D403]), "denials_401_after": post[D401],
                   "denials_403_after": post[D403], "drift_since": deploy,
                   "change_start": post_start if post_start is not None else win.start,
                   "window_seconds": win.end - win.start},
            samples=list(win.stats[SAMPLES]),
        )

    @staticmethod
    def _converted(ref: list[float], post: list[int], lost: float) -> dict[str, Any] | None:
        """The success-share evidence when the lost denials came back as successes."""
        r0, r1 = ref[OK] / ref[SVC], post[OK] / post[SVC]
        expected = lost * ref[NS] / ref[SVC]  # the rise if every lost denial now succeeds
        if expected <= 0 or r0 <= 0:
            return None
        back = (r1 - r0) / expected
        pc = share_above(post[OK], post[SVC], round(ref[OK]), round(ref[SVC]))
        if back < CONVERT_MIN or pc > CONVERT_ALPHA:
            return None
        return {"successes_up": round(r1 / r0 - 1.0, 4), "converted_share": round(back, 3),
                "success_per_service_request_before": round(r0, 5),
                "success_per_service_request_after": round(r1, 5),
                "conversion_p_value": float(f"{pc:.3g}")}

    def learn(self, state: _State, win: SeriesWindow, flagged: bool) -> None:
        self.learn_assessed(state, win, flagged, self.assess(state, win)[1])

    def learn_assessed(self, state: _State, win: SeriesWindow, flagged: bool,
                       judged: tuple[_View, Signal | None]) -> None:
        """:meth:`learn`, given this window's :meth:`assess` view and verdict."""
        v, sig = judged
        if v.fresh:
            state.since = [0] * SLOTS
        if sig is not None:  # judged: a deploy with a reference, not reported yet
            state.fired = v.deploy
        state.deploy, state.ref, state.prev = v.deploy, v.ref, v.prev
        state.post, state.post_start = v.post, v.post_start
        counts = _counts(state, win)
        _follow(state, win)
        if flagged:
            return  # an anomalous window is no version's normal
        if v.deploy is None or win.start >= v.deploy + SETTLE_S:
            state.since = [a + b for a, b in zip(state.since, counts, strict=True)]
        if state.roll_at is not None:
            keep = math.exp(-max(win.end - state.roll_at, 0.0) / REF_TAU_S)
            state.roll = [r * keep + c for r, c in zip(state.roll, counts, strict=True)]
        else:
            state.roll = [float(c) for c in counts]
        state.roll_at = win.end


def _follow(st: _State, win: SeriesWindow) -> None:
    """Update the service's recent level, a flood counted only up to ``JUMP`` times it
    (a lasting rise is followed at that pace, a flood does not become the level)."""
    total, windows, at = st.level
    svc = float(max(win.service_requests, win.stats[COUNT]))
    level = _level(st)
    if level is not None:
        svc = min(svc, JUMP * level)
    keep = math.exp(-max(win.end - at, 0.0) / LEVEL_TAU_S) if windows else 0.0
    st.level = [total * keep + svc, windows * keep + 1.0, win.end]
