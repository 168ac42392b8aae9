"""auth_failure_burst per route: failures a deploy caused, or failures added from outside.

A 401/403 surge is found by the share test of :class:`RatioSurgeDetector`. Soon
after a deploy it has two origins. Credential stuffing adds requests: the
route's volume, counted per request of its whole service, grows by about the
new failures. A release that breaks authentication (a token check, a cookie
domain) makes the route's usual callers fail: their requests were coming
anyway, so the volume stays where it was and successes give way to
failures. Such a surge is marked ``deploy_related``, and the incident
manager takes the deploy as its suspect, as for the deploy-caused kinds.

The volume reference is a time-decayed sum of the route's and its service's
requests over unflagged windows, frozen at each deploy.
"""

from __future__ import annotations

import dataclasses
import math

from detector.detectors.base import SeriesWindow, Signal
from detector.detectors.ratio_surge import RatioSurgeDetector, _State
from detector.windows.stats import COUNT, SAUTH

TAU_S = 3600.0  # e-folding time of the volume reference
WITHIN_S = 1800.0  # a surge starting this long after a deploy may be the deploy's
MIN_ROUTE = 100.0  # (decayed) route requests the reference needs
ADDED_MAX = 0.5  # a deploy's surge adds at most this share of its new failures as volume


class AuthRouteState(_State):
    """The share-test state plus the route's volume per service request."""

    __slots__ = ("mix", "mix_at", "mix_deploy", "ref")

    def __init__(self, prior: float) -> None:
        super().__init__(prior)
        self.mix = [0.0, 0.0]  # decayed [route requests, service requests]
        self.mix_at: float | None = None
        self.mix_deploy: float | None = None  # the deploy ``ref`` was frozen at
        self.ref: list[float] | None = None


class AuthRouteDetector(RatioSurgeDetector):
    """Route-keyed 401/403 surges; those replacing a route's own traffic after a deploy
    carry ``extra["deploy_related"]``.

    >>> from detector.detectors.base import SeriesKey
    >>> from detector.windows.stats import new_series_stats
    >>> det = AuthRouteDetector("auth_failure_burst", SAUTH, min_increase=0.15, warmup=5)
    >>> st = det.new_state()
    >>> def win(i, n, k, svc, deploy=None):
    ...     s = new_series_stats(); s[COUNT] = n; s[SAUTH] = k
    ...     return SeriesWindow(SeriesKey("id", "GET", "/me"), i * 60.0, i * 60 + 60.0, s, 1.0,
    ...                         deploy, svc)
    >>> for i in range(60):
    ...     w = win(i, 100, 1, 1000); _ = det.check(st, w); det.learn(st, w, False)
    >>> det.learn(st, win(60, 100, 1, 1000, deploy=3600.0), False)
    >>> broken = det.check(st, win(61, 100, 60, 1000, deploy=3600.0))  # the same callers fail
    >>> broken.extra["deploy_related"]
    True
    >>> stuffed = det.check(st, win(61, 400, 300, 1300, deploy=3600.0))  # 300 added attempts
    >>> "deploy_related" in stuffed.extra
    False
    """

    def new_state(self) -> AuthRouteState:
        return AuthRouteState(self.prior)

    def check(self, state: _State, win: SeriesWindow) -> Signal | None:
        sig = super().check(state, win)
        if sig is None or win.deploy is None or win.start - win.deploy > WITHIN_S:
            return sig
        ref = _frozen(state, win)
        if ref is None:
            return sig
        n, svc = int(win.stats[COUNT]), int(win.service_requests)
        if svc < n or svc <= 0:
            return sig
        expected = ref[0] / ref[1] * svc  # the route's requests at its usual share
        new_failures = int(win.stats[SAUTH]) - sig.baseline * n
        if new_failures <= 0:
            return sig
        added = (n - expected) / new_failures
        extra = {**sig.extra, "volume_vs_usual": round(n / expected, 3) if expected else None}
        if added <= ADDED_MAX:
            extra["deploy_related"] = True
        return dataclasses.replace(sig, extra=extra)

    def learn(self, state: _State, win: SeriesWindow, flagged: bool) -> None:
        super().learn(state, win, flagged)
        if not isinstance(state, AuthRouteState):
            return  # a state from a snapshot written before the volume reference
        ref = _frozen(state, win)
        state.ref, state.mix_deploy = ref, win.deploy
        if flagged:
            return
        n, svc = float(win.stats[COUNT]), float(max(win.service_requests, win.stats[COUNT]))
        if state.mix_at is None:
            state.mix = [n, svc]
        else:
            keep = math.exp(-max(win.end - state.mix_at, 0.0) / TAU_S)
            state.mix = [state.mix[0] * keep + n, state.mix[1] * keep + svc]
        state.mix_at = win.end


def _frozen(state: _State, win: SeriesWindow) -> list[float] | None:
    """The volume reference for ``win``: frozen at its deploy (pure)."""
    if not isinstance(state, AuthRouteState):
        return None
    if win.deploy is not None and win.deploy != state.mix_deploy:
        ref = list(state.mix) if state.mix_at is not None else None
    else:
        ref = state.ref
    if ref is None or ref[0] < MIN_ROUTE or ref[1] <= 0:
        return None
    return ref
