"""traffic_spike and traffic_drop: request count far from the seasonal forecast.

A spike is judged against the fast forecast and against the slow level (what
the route did before a ramp began: the fast level follows a half-hour ramp);
a burst that recurs on a beat (a batch job every hour) is explained, not raised
(:mod:`detector.detectors.baselines.bursts`). A route's anomaly is also a change
of its share of the service's traffic: when the rest of the service rose or fell
with it (a marketing campaign, the way back from one, a day whose curve is not
learned yet), the route's usual share of the service's requests explains it.
An intermittent route (a batch export: silent, then a burst from many clients at
once) has no rate to spike from: its bursts are judged against its earlier ones.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from scipy.special import gammainc, gammaincc

from detector.config import DetectorSettings
from detector.detectors.base import SeriesWindow, Signal, score_from_p
from detector.detectors.baselines import bursts
from detector.detectors.baselines.count import CountBaseline
from detector.kinds import Kind
from detector.windows.stats import COUNT, S4XX, S5XX, S404, SAMPLES, SAUTH

HORIZONS = (1, 3)  # single window, and three windows for slower or low-volume changes
PEAK_DECAY = 0.999  # the peak envelope halves in about 11 hours of windows
PEAK_MARGIN = 1.25  # a spike must beat the route's own recent peaks by this factor
SERVED_MIN = 0.5  # quiet-route drops are judged on series that mostly answer successfully
SERVED_DECAY = 0.99  # per window: the served counts remember about a hundred windows
SERVED_VOLUME = 100.0  # ... and that saw about a request a minute over them
HOLD_P = 0.1  # a low run this unlikely is held back from the baseline
LOW_RUN_MAX = 30  # windows a low run is held back from the baseline before it is learned
SHORT_EPISODE = 5  # bursts up to this many windows are learned once they are over
# After flagged windows, a window this far from the forecast still belongs to the
# episode (not learned), though it no longer passes the test on its own.
LINGER_DROP = 0.6
LINGER_SPIKE = 1.5
SHARE_DECAY = 0.99  # per learned window: the route's share of its service over ~100 windows
# Decayed requests of the route and of the rest of the service before the share is used
# (a route seen a request a minute has too noisy a share to explain anything).
SHARE_VOLUME = 200.0
# The rest of the service this far from what the route's forecast implies is news (an
# outage, a flood), not an explanation: the share explains only moderate service moves.
SERVICE_MOVE_MAX = 3.0
ACTIVE_DECAY = 0.995  # per window: the share of windows with traffic over ~200 windows
INTERMITTENT = 0.2  # a route with traffic in fewer of its windows than this is intermittent
# Decayed windows seen before a route can be called intermittent: about the default
# warm-up's 30 windows (27.9 decayed), so a route whose first burst is followed by half
# an hour of silence is judged by its bursts from its first judged window on.
ACTIVE_WINDOWS = 25.0


class _State:
    __slots__ = (
        "baseline",
        "recent",
        "seen",
        "streak",
        "pending",
        "peak",
        "episode",
        "fired",
        "bursts",
        "low",
        "served",
        "share",
        "active",
        "tail",
    )

    def __init__(self) -> None:
        self.baseline = CountBaseline()
        self.recent: deque[tuple[float, float, float]] = deque(maxlen=max(HORIZONS))
        self.seen = 0
        self.streak = 0
        # Unused since check() became pure; kept so that snapshots holding them still load.
        self.pending: tuple[float, float, float] = (0.0, 0.0, 1.0)
        self.peak = 0.0  # decayed max of count/expected over learned windows
        self.episode = 0.0  # max ratio of the current run of spike windows
        self.fired = False  # unused, as pending
        # Onsets of recent short bursts, from a series' first burst on (absent from
        # snapshots written before it: read through _bursts_of).
        self.bursts: list[float] | None = None
        # The current run of low windows, (count, expected, windows), None when not in
        # one (and in snapshots written before it): a drop too small per window for
        # the fixed horizons grows its own until the sums can tell.
        self.low: tuple[float, float, int] | None = None
        # Decayed (requests answered without an error, requests): a series of scanner
        # probes (404s) that stops is not a route that lost its users, and a series
        # seen a few times a day has no rate whose silence could be judged.
        self.served = (0.0, 0.0)
        # Decayed (this route's requests, the rest of the service's requests) over learned
        # windows; None until one, after a sleep, and in snapshots written before it.
        self.share: tuple[float, float] | None = None
        # Decayed (windows with traffic, windows, highest count), the series' first window
        # included; None in snapshots written before it.
        self.active: tuple[float, float, float] | None = None
        # Windows since an episode ended whose sums still reach into it (absent from
        # snapshots written before it).
        self.tail = 0


def _bursts_of(state: _State) -> list[float] | None:
    return getattr(state, "bursts", None)


def _established(state: _State) -> bool:
    """Mostly served, and busy enough lately, for a quiet run to be judged as a drop."""
    ok, n = getattr(state, "served", (0.0, 0.0))  # absent in older snapshots
    return n >= SERVED_VOLUME and (ok + 1.0) / (n + 2.0) >= SERVED_MIN


def _burst_floor(state: _State) -> float:
    """For an intermittent route (traffic in few of its windows: bursts with silence
    between them), the count a burst must reach to be a spike; 0 for any other route."""
    active = getattr(state, "active", None)
    if active is None or active[1] < ACTIVE_WINDOWS or active[0] >= INTERMITTENT * active[1]:
        return 0.0
    # Its bursts' heights vary as much as a batch job's (bursts.HEIGHT_MARGIN): a burst a
    # few times the highest lately is a spike, the next one of the same job is not.
    return float(bursts.HEIGHT_MARGIN * active[2])


def _by_share(state: _State, win: SeriesWindow, e: float) -> float | None:
    """The count the route's usual share of its service predicts for this window.

    None while the share is unknown, or when the rest of the service moved more than
    SERVICE_MOVE_MAX from what the route's own forecast implies.
    """
    share = getattr(state, "share", None)
    if share is None or share[0] < SHARE_VOLUME or share[1] < SHARE_VOLUME or e <= 0:
        return None
    others = max(0, int(win.service_requests) - int(win.stats[COUNT]))
    by_share: float = share[0] / share[1] * others
    move = by_share / e
    if not 1.0 / SERVICE_MOVE_MAX <= move <= SERVICE_MOVE_MAX:
        return None
    return by_share


def _horizons(state: _State, x: float, e: float, alone: bool = False
              ) -> Iterator[tuple[int, float, float]]:
    """(windows, count, expected) summed over each of HORIZONS that the history covers;
    ``alone``: the current window only."""
    hist = list(state.recent)
    for h in HORIZONS[:1] if alone else HORIZONS:
        if h > 1 and len(hist) < h - 1:
            continue
        past = hist[-(h - 1) :] if h > 1 else []
        yield h, x + sum(px for px, _, _ in past), e + sum(pe for _, pe, _ in past)


def _upper_p(x: float, e: float, disp: float) -> float:
    """P(X >= x) for an over-dispersed Poisson (scaled by the dispersion)."""
    if x <= 0:
        return 1.0
    return float(gammainc(x / disp, max(e, 1e-9) / disp))


def _judged(X: float, E: float, disp: float, ratio_floor: float | None = None
            ) -> dict[str, float | bool]:
    """What the tail test saw (evidence: `detector explain` recomputes the threshold)."""
    out: dict[str, float | bool] = {"horizon_observed": round(X, 2),
                                    "horizon_expected": round(E, 2),
                                    "dispersion": round(disp, 4)}
    if ratio_floor is not None:
        out["ratio_floor"] = round(ratio_floor, 3)
    return out


def _lower_p(x: float, e: float, disp: float) -> float:
    """P(X <= x) for an over-dispersed Poisson."""
    return float(gammaincc(x / disp + 1.0, max(e, 1e-9) / disp))


class TrafficDetector:
    """Spikes and drops of a route's request rate against a seasonal baseline.

    >>> from detector.config import DetectorSettings
    >>> from detector.detectors.base import SeriesKey, SeriesWindow
    >>> from detector.windows.stats import new_series_stats
    >>> det = TrafficDetector(DetectorSettings(warmup_windows=5))
    >>> st = det.new_state()
    >>> key = SeriesKey("shop", "GET", "/items/{id}")
    >>> def win(i, n):
    ...     s = new_series_stats(); s[0] = n
    ...     return SeriesWindow(key, i * 60.0, i * 60.0 + 60, s, 1.0)
    >>> for i in range(30):
    ...     w = win(i, 100 + i % 5)
    ...     _ = det.check(st, w); det.learn(st, w, False)
    >>> det.check(st, win(30, 900)).kind
    'traffic_spike'
    """

    kinds: tuple[Kind, ...] = ("traffic_spike", "traffic_drop")

    def __init__(self, settings: DetectorSettings) -> None:
        self.s = settings

    def new_state(self) -> _State:
        return _State()

    @staticmethod
    def _observed(state: _State, win: SeriesWindow) -> tuple[float, float, float]:
        """(count, expected count for the covered part of the window, variance)."""
        e, var = state.baseline.forecast(win.start)
        return float(win.stats[COUNT]), e * win.coverage, var

    def check(self, state: _State, win: SeriesWindow) -> Signal | None:
        x, e, _ = self._observed(state, win)
        if state.seen < self.s.warmup_windows or win.coverage < 0.5:
            return None
        return self._spike(state, win, x, e) or self._drop(state, win, x, e)

    def _spike(self, state: _State, win: SeriesWindow, x: float, e: float) -> Signal | None:
        s = self.s
        # Routes with recurring bursts (batch jobs, cron clients) learn how far
        # above their level they usually go: a spike must beat that too.
        spike_ratio = max(s.spike_min_ratio, PEAK_MARGIN * state.peak)
        if x < _burst_floor(state):
            return None
        if x < spike_ratio:
            return None
        # The slow level, or the lowest level of the last half hour, is what the route
        # did before a ramp that the fast level follows.
        slow = state.baseline.ramp_forecast(win.start) * win.coverage
        if x < spike_ratio * max(min(e, slow), 1.0):
            return None  # the exit of nearly every window: every horizon needs this
        by_share = _by_share(state, win, e)
        if by_share is not None and x < spike_ratio * max(by_share, 1.0):
            return None  # the rest of the service rose with the route
        disp = state.baseline.dispersion
        # A window under half of the flagged one before it is the episode's end: it stands
        # alone, or a sum would carry the episode's excess (a walk's minutes, which the
        # client detectors judged) onto its last seconds.
        ending = state.streak > 0 and bool(state.recent) and state.recent[-1][0] > 2.0 * x
        # Just after an episode, a window under half of one the sums would take from
        # it stands alone too (the end of a slow stuffing run: 7 requests after 35 and
        # 8, a x7 "spike" over three windows), though not one of a walk's minutes.
        ending = ending or (getattr(state, "tail", 0) > 0
                            and max((r[0] for r in state.recent), default=0.0) > 2.0 * x)
        for h, X, E in _horizons(state, x, e, alone=ending):
            ref = e
            if h > 1 and slow * h < E:
                # A ramp lasts: only a sum over windows is judged against the slow
                # level, as it lags the day's drift (over three windows the daily
                # profile moves a percent or two: h times the slow level will do).
                E, ref = slow * h, slow
            # The current window must itself show the effect: a multi-window sum
            # only adds the statistical power that one low-volume window lacks.
            if (
                s.spike_min_count * h**0.5 <= X
                and spike_ratio * max(E, 1.0) <= X
                and x >= spike_ratio * max(ref, 1.0)
                and not self._explained(win, x, ref, spike_ratio)
            ):
                p = _upper_p(X, E, disp)
                if p <= s.alpha:
                    if self._recurring(state, win, x, e):
                        return None
                    return self._signal("traffic_spike", win, x, ref, p, h,
                                        _judged(X, E, disp, spike_ratio))
        return None

    def _drop(self, state: _State, win: SeriesWindow, x: float, e: float) -> Signal | None:
        s = self.s
        if x > s.drop_max_ratio * e or not _established(state):
            # (a series of probes, or one seen a few times a day whose seasonal profile
            # is noise, has no rate whose loss could be judged)
            return None
        by_share = _by_share(state, win, e)
        if by_share is not None and x > s.drop_max_ratio * by_share:
            return None  # the route kept its share of a service that fell
        disp = state.baseline.dispersion
        for h, X, E in _horizons(state, x, e):
            if s.drop_min_expected * (h**0.5) <= E and s.drop_max_ratio * E >= X:
                p = _lower_p(X, E, disp)
                if p <= s.alpha:
                    return self._signal("traffic_drop", win, x, e, p, h, _judged(X, E, disp))
        low = getattr(state, "low", None)
        if low is not None and low[2] + 1 > max(HORIZONS):
            # A quiet route's drop: the run of low windows so far, this one included.
            X, E, h = low[0] + x, low[1] + e, low[2] + 1
            # Its volume floor is fixed (twice a window's): the run's length is chosen
            # by the data, not scanned over, so it needs no sqrt(h) penalty.
            if 2 * s.drop_min_expected <= E and s.drop_max_ratio * E >= X:
                p = _lower_p(X, E, disp)
                if p <= s.alpha:
                    return self._signal("traffic_drop", win, x, e, p, h,
                                        {**_judged(X, E, disp), "quiet_run": True})
        return None

    def _low_run(self, state: _State, x: float, e: float) -> bool:
        """Extend or end the run of low windows; True while it is held back from learning.

        A window under the drop ratio of a forecast that could tell (at least one
        request expected) joins the run. Once the run is unlikely (HOLD_P), and up to
        LOW_RUN_MAX windows, it is not learned, so the baseline does not follow a drop
        before its sums can show it; a run that long without a drop is a new normal
        and is learned again.
        """
        young = state.baseline.n <= 2 * self.s.warmup_windows
        if e < 1.0 or x > self.s.drop_max_ratio * e or young or not _established(state):
            # (a young baseline learns everything: its first guesses may be off, and a
            # route that served for a few minutes and stopped has no normal to drop from)
            state.low = None
            return False
        low = getattr(state, "low", None) or (0.0, 0.0, 0)
        if low[2] >= LOW_RUN_MAX:
            state.low = None
            return False
        low = state.low = (low[0] + x, low[1] + e, low[2] + 1)
        # Only a run that already looks unlikely is held back: the low windows a quiet
        # route has by chance are learned as they come (holding them would bias it up).
        return _lower_p(low[0], low[1], state.baseline.dispersion) <= HOLD_P

    def _burst(self, state: _State, x: float, e: float) -> bool:
        """A window far above the fast forecast, whatever the route's burst history."""
        s = self.s
        return (
            x >= s.spike_min_count
            and x >= s.spike_min_ratio * max(e, 1.0)
            and _upper_p(x, e, state.baseline.dispersion) <= s.alpha
        )

    @staticmethod
    def _recurring(state: _State, win: SeriesWindow, x: float, e: float) -> bool:
        mem = _bursts_of(state)
        return mem is not None and bursts.recurring(
            mem, win.start, win.end - win.start, x / max(e, 1.0)
        )

    @staticmethod
    def _explained(win: SeriesWindow, x: float, e: float, ratio: float) -> bool:
        """Excess traffic made mostly of 401/403/404 answers, or whose 401/403s are a
        quarter of its excess and without which the window would be no spike: credential
        stuffing or probing, which the auth and scanning detectors report with better keys
        (a stuffing run's failures vary from minute to minute around half the excess; the
        rest of the window is the route's own). The second test takes no 404s, and only a
        real share of denials: a route's usual failures come with a real spike too, and
        taking them out against the whole expected count hid spikes just over the ratio
        (x4 on fresh seed 66002: 208 requests, 10 denied, 205.7 needed)."""
        denied = int(win.stats[SAUTH])
        failures = denied + int(win.stats[S404])
        excess = max(x - e, 1.0)
        return failures >= 0.5 * excess or (
            denied >= 0.25 * excess and x - denied < ratio * max(e, 1.0))

    def _signal(
        self, kind: Kind, win: SeriesWindow, x: float, e: float, p: float, horizon: int,
        judged: dict[str, float | bool] | None = None,
    ) -> Signal:
        k = win.key
        return Signal(
            kind=kind,
            service=k.service,
            route=k.route,
            method=k.method,
            client=None,
            start=win.start,
            end=win.end,
            score=score_from_p(p),
            observed=x,
            baseline=round(e, 2),
            requests=int(x),
            p_value=p,
            extra={"horizon_windows": horizon, **(judged or {}),
                   "window_seconds": win.end - win.start},
            samples=list(win.stats[SAMPLES]),
        )

    def dormant(self, state: _State, t: float) -> bool:
        """True when an empty window could not raise anything for this series."""
        if state.seen < self.s.warmup_windows:
            return False
        e, _ = state.baseline.forecast(t)
        return e < self.s.drop_min_expected / 4

    def skip_empty(self, state: _State, m: int) -> None:
        """Account for ``m`` empty windows that were not evaluated one by one."""
        state.seen += m
        state.baseline.skip_zeros(m)
        for _ in range(min(m, state.recent.maxlen or 0)):
            state.recent.append((0.0, 0.0, 1.0))
        self._end_episode(state)
        state.low = None  # a sleeping series is not judged: its run starts afresh
        state.share = None  # the rest of the service was not counted meanwhile
        active = getattr(state, "active", None)
        if active is not None:
            keep = ACTIVE_DECAY**m
            empty = (1.0 - keep) / (1.0 - ACTIVE_DECAY)  # the m windows, decayed
            state.active = (active[0] * keep, active[1] * keep + empty,
                            active[2] * PEAK_DECAY**m)
        served_ok, served_n = getattr(state, "served", (0.0, 0.0))
        state.served = (served_ok * SERVED_DECAY**m, served_n * SERVED_DECAY**m)
        state.peak *= PEAK_DECAY**m
        mem = _bursts_of(state)
        if mem is not None:
            bursts.end_run(mem)

    def _lingers(self, state: _State, xn: float, e: float) -> bool:
        """True when a window after flagged ones is still far from the forecast.

        Drops linger under LINGER_DROP of the forecast; spikes over LINGER_SPIKE
        only once the episode is longer than a short burst, whose end the burst
        memory must see (a batch job's tail is learned as before).
        """
        if e >= self.s.drop_min_expected / 2 and xn <= LINGER_DROP * e and _established(state):
            return True
        return (state.streak > SHORT_EPISODE and xn >= LINGER_SPIKE * max(e, 1.0)
                and xn - e >= self.s.spike_min_count / 2)

    @staticmethod
    def _end_episode(state: _State) -> None:
        if 0 < state.streak <= SHORT_EPISODE and state.episode > 0:
            # A short burst is over: remember how high it went, so the same
            # pattern (a batch job, a cron client) does not page every time.
            state.peak = max(state.peak, state.episode)
        state.streak = 0
        state.episode = 0.0

    def _track_bursts(self, state: _State, win: SeriesWindow, x: float, e: float) -> bool:
        """Remember the beat of short bursts; True when this window is a recurring one."""
        mem = _bursts_of(state)
        ratio = x / max(e, 1.0)
        if not self._burst(state, x, e):
            if mem is not None:
                if mem[bursts.RUN]:
                    bursts.end_run(mem)
                mem[bursts.CALM] = max(mem[bursts.CALM] * PEAK_DECAY, ratio)
            return False
        if mem is None:
            mem = state.bursts = bursts.new_memory(calm=state.peak)
        recurring = bursts.recurring(mem, win.start, win.end - win.start, ratio)
        bursts.observe(mem, win.start, True, ratio)
        if recurring:
            # The route's bursts keep a beat: their height no longer hides a spike
            # at another time (the envelope goes back to the route without them).
            state.peak = min(state.peak, mem[bursts.CALM])
        return recurring

    def learn(self, state: _State, win: SeriesWindow, flagged: bool) -> None:
        x, e, var = self._observed(state, win)
        if flagged:
            # Flagged windows are rare: checking again (pure) tells whether this
            # detector's own spike is part of the episode, whose height is remembered.
            sig = self.check(state, win)
            if sig is not None and sig.kind == "traffic_spike":
                state.episode = max(state.episode, x / max(e, 1.0))
        state.seen += 1
        if win.coverage < 0.5:
            return
        recurring = self._track_bursts(state, win, x, e)
        active = getattr(state, "active", None) or (0.0, 0.0, 0.0)
        state.active = (ACTIVE_DECAY * active[0] + (x > 0), ACTIVE_DECAY * active[1] + 1.0,
                        max(PEAK_DECAY * active[2], x))
        state.recent.append((x, e, var))
        st = win.stats
        ok = max(0.0, x - st[S5XX] - st[S4XX] - st[SAUTH] - st[S404])
        served_ok, served_n = getattr(state, "served", (0.0, 0.0))
        state.served = (SERVED_DECAY * served_ok + ok, SERVED_DECAY * served_n + x)
        held = self._low_run(state, x, e)
        if not flagged and state.streak > 0 and self._lingers(state, x / win.coverage, e):
            # An episode goes on below the test's bar (a drop's one busier minute, a
            # long spike's shoulder): learning it would teach the baseline the anomaly,
            # inflate the dispersion and turn the recovery into a false incident.
            flagged = True
        if not flagged and state.streak > SHORT_EPISODE and state.episode > 0:
            # A long spike is over by the forecast it was judged against. If it ramped
            # up, the fast level followed its climb before the test was sure: back to
            # where the climb started, or the way down to the route's own level reads
            # as a drop. Whether it is over is then asked again of the rewound level:
            # a shoulder still far above it, learned, would raise the peak envelope and
            # the dispersion and hide the route's next spikes for hours (fresh seed
            # 66002: a x5.9 ramp's last minutes, 77-109 requests against 27, raised
            # the envelope 2.2 -> 3.6, and a x4.2 ramp 7 h later was missed).
            # (The rest of this window's learning keeps the forecast it was judged
            # against: by the rewound level a low-volume route's next window, a few
            # requests over one expected, would raise the peak envelope to x10.)
            state.baseline.rewind_to_ramp(win.start)
            rewound = state.baseline.forecast(win.start)[0] * win.coverage
            flagged = self._lingers(state, x / win.coverage, rewound)
        if flagged:
            state.streak += 1
            if state.streak >= self.s.relearn_after_windows:
                state.baseline.reset_to(x)  # a change this long is the new normal
                state.streak = 0
            return
        # The sums of the next windows reach back into an episode that ends here.
        state.tail = max(HORIZONS) - 1 if state.streak > 0 else max(
            0, getattr(state, "tail", 0) - 1)
        self._end_episode(state)
        if recurring or held:
            # A known job's burst teaches neither the level nor the peak envelope; a
            # run of low windows waits until it is a drop or a new normal.
            return
        xn = x / win.coverage if win.coverage < 1 else x
        state.peak = max(state.peak * PEAK_DECAY, xn / max(e, 1.0) if e > 0 else 0.0)
        state.baseline.learn(xn, win.start)
        if (x - e) ** 2 <= 16.0 * var:
            # Only a window near the forecast teaches the share: a burst the baseline
            # shrugs off (winsorised) must not make the route's share look bigger.
            others = max(0.0, float(win.service_requests) - x)
            share = getattr(state, "share", None) or (0.0, 0.0)
            state.share = (SHARE_DECAY * share[0] + x, SHARE_DECAY * share[1] + others)
