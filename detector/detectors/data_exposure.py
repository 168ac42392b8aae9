"""data_exposure: after a deploy, a route's successful answers grow: more data sent than before.

Per route, a decayed histogram of 2xx response sizes (the ``BYTES`` slot,
quarter-octave buckets) learns the serving version from unflagged windows. At a
deploy it is frozen as the previous version's reference, and the answers of
the next ``WATCH_S`` seconds are counted apart and compared with it. Two shapes
of growth are raised, each once per route and deploy:

* a jump: the whole distribution moved up (new fields serialised): a
  Mann-Whitney test (:func:`detector.detectors.two_sample.shift`), the median
  and the lower decile both grown past the effect floor;
* a tail: some answers became far larger than anything the route sent (a
  route answering other clients' data): more answers above the reference's
  p99 than its 1 %, and the p90 grown past the floor.

Bodies that shrink are not exposure, and a change under 20 % says nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import compress
from typing import Any, NamedTuple

from detector.config import DetectorSettings
from detector.detectors.base import SeriesWindow, Signal, score_from_p
from detector.detectors.two_sample import share_above, shift
from detector.kinds import Kind
from detector.windows.stats import BYTES, NB_BYTES, SAMPLES, size_bounds, size_value, slot

HALF_LIFE_S = 2 * 3600.0  # the reference is the last few hours of the serving version
WATCH_S = 3 * 3600.0  # answers after a deploy compared with the reference this long
ALPHA = 1e-6  # tested every window of the watch, on every route of every deploy
MIN_BEFORE = 100.0  # answers (decayed) the reference needs
MIN_AFTER = 30  # answers after the deploy before any test
GROWTH = 1.2  # effect floor: a median or p90 grown by less says nothing
# A jump moves the whole distribution: the lower decile grows too. A route whose
# answers mix small and large bodies (single items and lists) moves its median
# and p90 by a third when the share of lists doubles through the day, and its
# lower decile by a few percent.
LOWER_Q = 0.1
TAIL_REF = 0.99  # a tail: answers above the reference's p99 ...
TAIL_MIN_SHARE = 0.05  # ... are at least this share of the answers after ...
TAIL_LIFT = 5.0  # ... and this many times the reference's share above it
PRUNE = 0.01  # decayed counts below this are dropped (the histogram stays sparse)
DECAY_STEP_S = 600.0  # the base is decayed this often
JUDGE_GROWTH = 1.1  # the answers after a deploy are judged again once grown this much

Hist = dict[int, float]


class Watch(NamedTuple):
    """What a route's watch after a deploy holds once a window is counted."""

    ref: Hist | None  # the previous version's sizes (None: nothing to compare with)
    post: dict[int, int]  # answers since the deploy, by bucket
    since: float | None  # start of the first window counted in ``post``
    done: bool  # no (more) verdict for this deploy
    judged: int  # answers in ``post`` when it was last judged


class _State:
    __slots__ = ("base", "base_ts", "deploy", "ref", "post", "post_start", "done", "judged")

    def __init__(self) -> None:
        self.base: Hist = {}  # decayed 2xx sizes of the serving version, by bucket
        self.base_ts: float | None = None  # window end the decay was last applied at
        self.deploy: float | None = None  # the latest deploy seen
        self.ref: Hist | None = None  # the base frozen at that deploy, while watched
        self.post: dict[int, int] = {}  # answers since the deploy, by bucket
        self.post_start: float | None = None  # start of the first window counted in post
        self.done = False  # raised (or never watchable) for this deploy
        self.judged = 0  # answers after the deploy when last judged


def dense(h: Mapping[int, float], lo: int = 0, hi: int = NB_BYTES) -> list[float]:
    """A sparse histogram as a list over size buckets ``lo`` .. ``hi - 1``."""
    out = [0.0] * (hi - lo)
    for i, c in h.items():
        out[i - lo] = float(c)
    return out


def size_quantile(hist: Sequence[float], q: float, lo: int = 0) -> float | None:
    """Quantile ``q`` of a size histogram, log-linearly inside its bucket; None when empty.

    Buckets are a quarter octave (19 %) wide: read at the bucket's middle, a 10 %
    change could look like 19 % or none; interpolated, it stays near 10 %.
    ``hist[0]`` is bucket ``lo``.

    >>> h = [0.0] * NB_BYTES
    >>> h[44] = 10.0  # 1024-1280 bytes
    >>> round(size_quantile(h, 0.5))
    1145
    """
    total = sum(hist)
    if total <= 0:
        return None
    target = q * total
    acc = 0.0
    for i, c in enumerate(hist):
        if c > 0 and acc + c >= target:
            a, b = size_bounds(i + lo)
            if a <= 0:
                return size_value(i + lo)
            return float(a * (b / a) ** ((target - acc) / c))
        acc += c
    return size_value(len(hist) - 1 + lo)


def mass_above(hist: Sequence[float], value: float, lo: int = 0) -> float:
    """Answers above ``value`` (the bucket holding it shared log-linearly)."""
    out = 0.0
    for i, c in enumerate(hist):
        if c <= 0:
            continue
        a, b = size_bounds(i + lo)
        if a >= value:
            out += c
        elif b > value and a > 0:
            out += c * math.log(b / value) / math.log(b / a)
    return out


def _top(h: Mapping[int, float], qs: tuple[float, ...]) -> list[int]:
    """The buckets holding quantiles ``qs`` (ascending) of a sparse histogram."""
    total = sum(h.values())
    out: list[int] = []
    acc = 0.0
    for i, c in sorted(h.items()):
        acc += c
        while len(out) < len(qs) and acc >= qs[len(out)] * total:
            out.append(i)
    return out


def _may_have_grown(ref: Mapping[int, float], post: Mapping[int, float]) -> bool:
    """Whether the median or p90 moved up a bucket or more: the effect floor, cheaply.

    Most windows of a watch stop here. A quantile that stays in its bucket grew
    by at most the bucket's width (14-25 %): only growths at the very edge of
    the floor are passed over, and a real jump moves buckets.
    """
    (m0, u0), (m1, u1) = _top(ref, (0.5, 0.9)), _top(post, (0.5, 0.9))
    return m1 > m0 or u1 > u0


def _ratio(after: float | None, before: float | None) -> float:
    if after is None or before is None or before <= 0:
        return 1.0
    return after / before


class DataExposureDetector:
    """2xx response sizes of a route grown after a deploy, against the previous version.

    >>> from detector.detectors.base import SeriesKey, SeriesWindow
    >>> from detector.windows.stats import BYTES, new_series_stats, size_bucket
    >>> det = DataExposureDetector(DetectorSettings())
    >>> st = det.new_state()
    >>> def win(i, sizes, deploy=None):
    ...     s = new_series_stats(); s[0] = len(sizes); s[BYTES] = [0] * NB_BYTES
    ...     for n in sizes: s[BYTES][size_bucket(n)] += 1
    ...     return SeriesWindow(SeriesKey("s", "GET", "/v1/users/{id}"), i * 60.0, i * 60.0 + 60,
    ...                         s, 1.0, deploy)
    >>> small = [1000, 1100, 1200, 1300, 1400]
    >>> for i in range(120):
    ...     w = win(i, small)
    ...     _ = det.check(st, w); det.learn(st, w, False)
    >>> sigs = []
    >>> for i in range(120, 140):
    ...     w = win(i, [n * 7 for n in small], deploy=7170.0)
    ...     sigs.append(det.check(st, w)); det.learn(st, w, sigs[-1] is not None)
    >>> [s.kind for s in sigs if s], round(next(s for s in sigs if s).extra["median_ratio"])
    (['data_exposure'], 7)
    """

    kinds: tuple[Kind, ...] = ("data_exposure",)

    def __init__(self, settings: DetectorSettings) -> None:
        self.s = settings

    def new_state(self) -> _State:
        return _State()

    # ---- the watch after a deploy, as this window would leave it (pure) ----
    @staticmethod
    def _decayed(st: _State, at: float) -> Hist:
        if st.base_ts is None or at <= st.base_ts:
            return dict(st.base)
        f = 0.5 ** ((at - st.base_ts) / HALF_LIFE_S)
        return {i: c * f for i, c in st.base.items() if c * f >= PRUNE}

    def _step(self, st: _State, win: SeriesWindow) -> tuple[Watch, Signal | None]:
        """The watch after this window, and the signal it raises (pure: ``st`` is unchanged)."""
        dep = win.deploy
        if dep is not None and dep != st.deploy:
            # A fresh deploy: the base before this window is the previous version.
            # The window holding the deploy mixes both versions: counted in neither.
            ref = self._decayed(st, win.start)
            ok = sum(ref.values()) >= MIN_BEFORE and win.end - dep <= WATCH_S
            return Watch(ref if ok else None, {}, None, not ok, 0), None
        if st.ref is None or st.done or st.deploy is None or win.start - st.deploy > WATCH_S:
            return Watch(None, {}, None, True, 0), None
        judged = st.judged
        sizes = slot(win.stats, BYTES)
        if not sizes or win.start < st.deploy:
            # Nothing new to judge: the verdict of the last window stands (none).
            return Watch(st.ref, st.post, st.post_start, False, judged), None
        post = dict(st.post)
        for i in compress(range(len(sizes)), sizes):
            post[i] = post.get(i, 0) + sizes[i]
        since = st.post_start if st.post_start is not None else win.start
        n1 = sum(post.values())
        if n1 < max(MIN_AFTER, JUDGE_GROWTH * judged):
            # Judged again once the answers grew by a tenth: a verdict on hours of
            # answers is not changed by the last minute's.
            return Watch(st.ref, post, since, False, judged), None
        w = Watch(st.ref, post, since, False, n1)
        return w, self._signal(st.deploy, w, win)

    def _signal(self, deploy: float, w: Watch, win: SeriesWindow) -> Signal | None:
        ref, post, since, n1 = w.ref, w.post, w.since, w.judged
        if ref is None or since is None or not _may_have_grown(ref, post):
            return None
        # Only the buckets either side uses: a route's sizes span a few octaves.
        lo, hi = min(min(ref), min(post)), max(max(ref), max(post)) + 1
        found = self._judge(dense(ref, lo, hi), dense(post, lo, hi), lo)
        if found is None:
            return None
        rule, p, extra = found
        extra.update({"answers_before": round(sum(ref.values())), "answers_after": n1,
                      "rule": rule, "drift_since": deploy, "change_start": since,
                      "seconds_since_deploy": round(max(0.0, since - deploy)),
                      "window_seconds": win.end - win.start})
        key = win.key
        return Signal(kind="data_exposure", service=key.service, route=key.route,
                      method=key.method, client=None, start=since, end=win.end,
                      score=score_from_p(p), observed=extra["median_bytes"],
                      baseline=extra["baseline_median_bytes"], requests=n1, p_value=p,
                      extra=extra, samples=list(win.stats[SAMPLES]))

    def check(self, state: _State, win: SeriesWindow) -> Signal | None:
        return self._step(state, win)[1]

    def assess(self, state: _State, win: SeriesWindow
               ) -> tuple[Signal | None, tuple[Watch, Signal | None]]:
        """:meth:`check`, with the step :meth:`learn_assessed` takes back (AssessingDetector)."""
        step = self._step(state, win)
        return step[1], step

    @staticmethod
    def _judge(before: list[float], after: list[float], lo: int = 0,
               ) -> tuple[str, float, dict[str, Any]] | None:
        """("jump" or "tail", p-value, evidence) when the answers after grew; else None.

        Both lists start at bucket ``lo``.
        """
        q = {name: (size_quantile(before, x, lo), size_quantile(after, x, lo))
             for name, x in (("low", LOWER_Q), ("median", 0.5), ("p90", 0.9))}
        med, upper = _ratio(*reversed(q["median"])), _ratio(*reversed(q["p90"]))
        if med < GROWTH and upper < GROWTH:
            return None  # the effect floor, before any test (most windows stop here)
        lower = _ratio(*reversed(q["low"]))
        rule, p = None, 1.0
        if med >= GROWTH and lower >= GROWTH:
            s = shift(before, after, lambda i: size_value(i + lo))
            if s is not None and s.p_value <= ALPHA:
                rule, p = "jump", s.p_value
        top = size_quantile(before, TAIL_REF, lo)
        n0, n1 = sum(before), sum(after)
        k1 = mass_above(after, top, lo) if top is not None else 0.0
        k0 = (1.0 - TAIL_REF) * n0
        if rule is None and upper >= GROWTH and k1 >= TAIL_MIN_SHARE * n1 \
                and k1 / n1 >= TAIL_LIFT * k0 / n0:
            p_tail = share_above(math.floor(k1), round(n1), math.ceil(k0), round(n0))
            if p_tail <= ALPHA:
                rule, p = "tail", p_tail
        if rule is None:
            return None
        (m0, m1), (u0, u1) = q["median"], q["p90"]
        return rule, p, {
            "median_bytes": round(m1 or 0.0), "baseline_median_bytes": round(m0 or 0.0),
            "p90_bytes": round(u1 or 0.0), "baseline_p90_bytes": round(u0 or 0.0),
            "median_ratio": round(med, 3), "p90_ratio": round(upper, 3),
            "share_above_baseline_p99": round(k1 / n1, 4),
        }

    def learn(self, state: _State, win: SeriesWindow, flagged: bool) -> None:
        self.learn_assessed(state, win, flagged, self._step(state, win))

    def learn_assessed(self, state: _State, win: SeriesWindow, flagged: bool,
                       step: tuple[Watch, Signal | None]) -> None:
        """:meth:`learn`, given this window's :meth:`assess` step."""
        w, sig = step
        done = w.done or sig is not None  # one incident per route and deploy
        if win.deploy is not None:
            state.deploy = win.deploy
        state.ref = None if done else w.ref
        state.post, state.post_start, state.done = ({}, None, True) if done else (
            w.post, w.since, False)
        state.judged = 0 if done else w.judged
        sizes = slot(win.stats, BYTES)
        if flagged or not sizes:
            return
        # Decayed in steps: a few minutes of answers added at full weight is nothing
        # against a two-hour half-life, and saves rebuilding the histogram every window.
        if state.base_ts is None or win.end - state.base_ts >= DECAY_STEP_S:
            state.base, state.base_ts = self._decayed(state, win.end), win.end
        base = state.base
        for i in compress(range(len(sizes)), sizes):
            base[i] = base.get(i, 0.0) + sizes[i]
