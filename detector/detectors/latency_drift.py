"""Slow latency drifts: a CUSUM of slow requests against a frozen reference.

The latency baseline decays in about an hour, so a regression that creeps up
over hours is learned as it grows and never stands out. Here the reference is
frozen: at each deploy the baseline is frozen as the previous version's, and
kept for ``latency_drift_seconds``; without a deploy it is re-frozen from the
baseline every ``REFRESH_S`` while nothing builds up. Each window adds the
log-likelihood ratio of its requests slower than the reference p90 (a share
``LIFT`` times the reference's against the reference's) to a one-sided CUSUM,
which fires at ``log(1/alpha)`` (:mod:`detector.detectors.change`).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import NamedTuple, Protocol

from scipy.special import bdtrc

from detector.detectors.baselines.latency import LatencyBaseline
from detector.detectors.change import BernoulliCusum
from detector.windows.stats import BOUNDS, bucket_value

REF_QUANTILE = 0.9
LIFT = 2.5  # the shift looked for: 2.5x the reference share above its p90
REFRESH_S = 2 * 3600.0  # no deploy: re-freeze the reference this often while quiet ...
MAX_AGE_S = 12 * 3600.0  # ... or after this long whatever the CUSUM (a sub-floor new normal)
ONSET_S = 1800.0  # a step whose CUSUM left zero this soon after a deploy began with it
SPAN_DECAY = 0.95  # the drift's own histogram, since the CUSUM left zero (~20 windows)
FLOOR_LEVEL = 1e-4  # the share above the effect floor must beat 5 % at this level (tested
# every window while the CUSUM is up: hundreds of tests after one deploy)
MIN_TOTAL = 50.0  # requests (decayed) a baseline needs to be frozen as a reference

Ref = tuple[int, float, float]  # reference p90 bucket, share above it, reference p95


class DriftFields(Protocol):
    """The drift fields of the latency state (plain data, so snapshots stay plain)."""

    baseline: LatencyBaseline
    deploy: float | None  # the latest deploy seen
    ref: Ref | None
    ref_since: float  # window end when the reference was frozen
    ref_deploy: float | None  # the deploy it was frozen at, None for a refresh
    cusum: float
    onset: float | None  # start of the window where the CUSUM last left zero


class Drift(NamedTuple):
    """The drift statistic after one window, as learning it would leave it."""

    ref: Ref | None
    ref_since: float
    ref_deploy: float | None
    cusum: float
    onset: float | None
    deploy: float | None

    def onset_deploy(self) -> float | None:
        """The deploy a step began with: its CUSUM left zero soon after that deploy."""
        d, o = self.ref_deploy, self.onset
        return d if d is not None and o is not None and o - d <= ONSET_S else None


def freeze(b: LatencyBaseline) -> Ref | None:
    """The reference a baseline gives (None while it knows too few requests)."""
    if b.total < MIN_TOTAL:
        return None
    bucket = b.threshold_bucket(REF_QUANTILE)
    q0 = max(0.02, b.share_above(bucket))
    # The share is estimated from the baseline's own requests: at a few requests
    # a minute that estimate is loose, and a CUSUM tuned to an underestimate
    # climbs on noise. Two standard errors up keeps its drift negative.
    q0 += 2.0 * math.sqrt(q0 * (1.0 - q0) / b.total)
    return bucket, q0, quantile_between(b.hist, 0.95) or bucket_value(bucket)


def advance(st: DriftFields, start: float, end: float, deploy: float | None,
            hist: list[int], n: int, ready: bool, horizon: float) -> Drift:
    """The drift state after a window of ``n`` timed requests (pure: ``st`` is unchanged).

    ``ready`` says the baseline has seen its warm-up; ``horizon`` is how long a
    deploy's reference is kept.
    """
    ref, since, ref_dep = st.ref, st.ref_since, st.ref_deploy
    cusum, onset = st.cusum, st.onset
    fresh = deploy is not None and deploy != st.deploy
    age = end - since
    kept = ref_dep is not None and end - ref_dep <= horizon
    if fresh and deploy is not None and end - deploy <= horizon:
        new = freeze(st.baseline) if ready else None
        ref, since, ref_dep, cusum, onset = new, end, deploy if new else None, 0.0, None
    elif ready and (ref is None or (not kept and (
            (cusum == 0.0 and age >= REFRESH_S) or age >= MAX_AGE_S))):
        new = freeze(st.baseline)
        if new is not None:
            ref, since, ref_dep, cusum, onset = new, end, None, 0.0, None
    if ref is not None and n > 0:
        bucket, q0, _ = ref
        k = sum(hist[bucket + 1 :])
        after = BernoulliCusum(q0, LIFT).step(cusum, k, n)
        if after > 0.0 and cusum == 0.0:
            onset = start
        elif after == 0.0:
            onset = None
        cusum = after
    return Drift(ref, since, ref_dep, cusum, onset, deploy if deploy is not None else st.deploy)


def quantile_between(hist: Sequence[float], q: float) -> float | None:
    """Quantile ``q`` interpolated inside its bucket (log-linearly); None when empty.

    Bucket midpoints are 20 % apart, so a ratio of two of them jumps from 1.44
    to 1.73 around the 1.5 floor: interpolation keeps a 1.3x change at 1.3x.

    >>> h = [0.0] * (len(BOUNDS) + 1)
    >>> h[20] = 10.0
    >>> BOUNDS[19] < quantile_between(h, 0.5) < BOUNDS[20]
    True
    """
    total = sum(hist)
    if total <= 0:
        return None
    target = q * total
    acc = 0.0
    for i, c in enumerate(hist):
        if c > 0 and acc + c >= target:
            if i == 0 or i >= len(BOUNDS):
                return bucket_value(i)
            lo, hi = BOUNDS[i - 1], BOUNDS[i]
            return float(lo * (hi / lo) ** ((target - acc) / c))
        acc += c
    return bucket_value(len(hist) - 1)


def span(acc: list[float] | None, hist: list[int], restart: bool) -> list[float]:
    """The drift's decayed histogram after one more window (a new list)."""
    if acc is None or restart:
        return [float(x) for x in hist]
    d = SPAN_DECAY
    return [a * d + x for a, x in zip(acc, hist, strict=True)]


def share_above(hist: Sequence[float], value: float) -> float:
    """Requests above ``value`` (the bucket holding it shared log-linearly)."""
    i = bisect.bisect_right(BOUNDS, value)
    above = sum(hist[i + 1 :])
    if 0 < i < len(BOUNDS):
        lo, hi = BOUNDS[i - 1], BOUNDS[i]
        above += hist[i] * math.log(hi / value) / math.log(hi / lo)
    elif i == 0:
        above += hist[0]
    return above


def beyond_floor(hist: Sequence[float], floor: float) -> bool:
    """Whether the p95 is above ``floor`` with confidence, not only as a point estimate.

    At a few requests a minute a p95 read from a few dozen requests is loose by
    a fifth either way; more than 5 % of requests above the floor, beyond what
    chance gives at the floor itself, is what counts.
    """
    n = sum(hist)
    k = share_above(hist, floor)
    return n > 0 and float(bdtrc(math.ceil(k) - 1, math.floor(n), 0.05)) <= FLOOR_LEVEL


def store(st: DriftFields, d: Drift) -> None:
    st.ref, st.ref_since, st.ref_deploy = d.ref, d.ref_since, d.ref_deploy
    st.cusum, st.onset, st.deploy = d.cusum, d.onset, d.deploy


def threshold(alpha: float) -> float:
    """The CUSUM level that is a test at ``alpha`` per excursion."""
    return math.log(1.0 / alpha)
