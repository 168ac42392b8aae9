"""The verdict's statistics: two-sample comparisons with intervals and detectable effects.

Shares and counts (5xx share, findings per 1,000 requests) are compared with an
exact conditional binomial test and a Newcombe hybrid-score interval on the
difference, which behave at zero counts: a baseline with no failure at all still
lets new failures count. Distributions (latency, response size, request rate) are
compared on per-window values, as Kayenta's judge does: a Mann-Whitney test, the
Hodges-Lehmann shift with its distribution-free interval, on the log scale so the
effect reads as a ratio. Every comparison also gives its minimum detectable
effect (MDE) at the traffic seen, for honest "not enough data" answers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import NamedTuple

from detector.detectors.two_sample import share_above, share_below

_N = NormalDist()
Z95 = _N.inv_cdf(0.975)  # reported intervals are 95 %, two-sided
POWER = 0.8  # the MDE is the effect found 80 % of the time at the test's level
_Z_POWER = _N.inv_cdf(POWER)


def wilson(k: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of the share ``k / n``.

    >>> [round(x, 4) for x in wilson(0, 100)]
    [0.0, 0.037]
    """
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def share_interval(k1: float, n1: float, k0: float, n0: float) -> tuple[float, float]:
    """95 % interval of ``k1/n1 - k0/n0`` (Newcombe's hybrid score method).

    >>> lo, hi = share_interval(30, 300, 3, 3000); round(lo, 3), round(hi, 3)
    (0.07, 0.138)
    >>> lo, hi = share_interval(0, 500, 0, 500); lo < 0 < hi
    True
    """
    p1 = k1 / n1 if n1 > 0 else 0.0
    p0 = k0 / n0 if n0 > 0 else 0.0
    l1, u1 = wilson(k1, n1)
    l0, u0 = wilson(k0, n0)
    d = p1 - p0
    return (d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2),
            d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2))


def share_p(k1: int, n1: int, k0: int, n0: int, up: bool) -> float:
    """One-sided exact p-value that the second share lies above (``up``) or below the first."""
    return share_above(k1, n1, k0, n0) if up else share_below(k1, n1, k0, n0)


def share_mde(p0: float, n0: float, n1: float, alpha: float, up: bool = True) -> float:
    """The smallest change of a share from ``p0`` that a one-sided test at ``alpha``
    finds with 80 % power, with ``n0`` baseline and ``n1`` candidate requests.

    >>> round(share_mde(0.005, 20000, 20000, 0.05), 4), round(share_mde(0.005, 150, 150, 0.05), 3)
    (0.0019, 0.048)
    >>> share_mde(0.01, 0, 100, 0.05)
    1.0
    """
    if n0 <= 0 or n1 <= 0:
        return 1.0
    za = _N.inv_cdf(1 - alpha)
    room = (1.0 - p0) if up else p0

    def power(d: float) -> float:
        p1 = p0 + d if up else p0 - d
        pbar = (p0 * n0 + p1 * n1) / (n0 + n1)
        se0 = math.sqrt(max(pbar * (1 - pbar), 1e-12) * (1 / n0 + 1 / n1))
        se1 = math.sqrt(max(p0 * (1 - p0) / n0 + p1 * (1 - p1) / n1, 1e-12))
        return _N.cdf((d - za * se0) / se1)

    if room <= 0 or power(room) < POWER:
        return 1.0
    lo, hi = 0.0, room
    for _ in range(40):  # bisection: deterministic to ~1e-12
        mid = (lo + hi) / 2
        if power(mid) >= POWER:
            hi = mid
        else:
            lo = mid
    return hi


class Shift(NamedTuple):
    """Per-window values of a candidate against a baseline, on the log scale.

    ``ratio`` is exp(Hodges-Lehmann shift) (candidate / baseline), ``interval``
    its 95 % interval, ``p_up``/``p_down`` the one-sided Mann-Whitney p-values,
    ``mde`` the relative change found with 80 % power at ``alpha``.
    """

    ratio: float
    interval: tuple[float, float]
    p_up: float
    p_down: float
    mde: float
    baseline: float  # median of the baseline's values
    candidate: float  # median of the candidate's values


def _median(xs: Sequence[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def _mw_p(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """One-sided Mann-Whitney p-values (y above x, y below x): normal approximation with
    tie correction and continuity correction; exact enough from 5 values a side."""
    m, n = len(x), len(y)
    allv = sorted([(v, 0) for v in x] + [(v, 1) for v in y])
    ranks = [0.0] * (m + n)
    ties = 0.0
    i = 0
    while i < m + n:
        j = i
        while j + 1 < m + n and allv[j + 1][0] == allv[i][0]:
            j += 1
        r = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[k] = r
        t = j - i + 1
        ties += t * t * t - t
        i = j + 1
    r_y = sum(r for r, (_, side) in zip(ranks, allv, strict=True) if side == 1)
    u = r_y - n * (n + 1) / 2
    mean = m * n / 2
    var = m * n / 12 * ((m + n + 1) - ties / ((m + n) * (m + n - 1)))
    if var <= 0:
        return 1.0, 1.0
    sd = math.sqrt(var)
    return 1 - _N.cdf((u - mean - 0.5) / sd), _N.cdf((u - mean + 0.5) / sd)


def log_shift(before: Sequence[float], after: Sequence[float], alpha: float) -> Shift | None:
    """Compare positive per-window values (None below 3 values a side).

    >>> b = [100 + (i % 7) for i in range(30)]; a = [2 * v for v in b]
    >>> s = log_shift(b, a, 0.05); round(s.ratio, 2), s.p_up < 1e-6, s.interval[0] > 1.8
    (2.0, True, True)
    >>> round(log_shift(b, b, 0.05).ratio, 2), log_shift(b, b, 0.05).p_up > 0.4
    (1.0, True)
    """
    m, n = len(before), len(after)
    if m < 3 or n < 3:
        return None
    x = [math.log(max(v, 1e-9)) for v in before]
    y = [math.log(max(v, 1e-9)) for v in after]
    diffs = sorted(b - a for a in x for b in y)
    mn = m * n
    hl = _median(diffs)
    # Distribution-free interval of the shift: the order statistics of the pairwise
    # differences at the Mann-Whitney critical value (normal approximation).
    k = int(math.floor(mn / 2 - Z95 * math.sqrt(mn * (m + n + 1) / 12)))
    k = min(max(k, 0), mn - 1)
    lo, hi = diffs[k], diffs[mn - 1 - k]
    p_up, p_down = _mw_p(x, y)
    # Spread of the baseline on the log scale (robust: MAD), for the detectable shift.
    med = _median(x)
    mad = _median([abs(v - med) for v in x]) * 1.4826
    sd = mad if mad > 0 else (max(x) - min(x)) / 4 or 0.01
    za = _N.inv_cdf(1 - alpha)
    # Mann-Whitney's efficiency relative to the t-test is 3/pi on normal data.
    mde_log = (za + _Z_POWER) * sd * math.sqrt(1 / m + 1 / n) / math.sqrt(3 / math.pi)
    return Shift(ratio=math.exp(hl), interval=(math.exp(lo), math.exp(hi)),
                 p_up=p_up, p_down=p_down, mde=math.expm1(mde_log),
                 baseline=math.exp(med), candidate=math.exp(_median(y)))


def bh_adjust(pvalues: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (false-discovery rate across a family).

    >>> [round(p, 3) for p in bh_adjust([0.01, 0.04, 0.03, 0.5])]
    [0.04, 0.053, 0.053, 0.5]
    """
    n = len(pvalues)
    order = sorted(range(n), key=lambda i: pvalues[i])
    out = [1.0] * n
    running = 1.0
    for rank in range(n, 0, -1):
        i = order[rank - 1]
        running = min(running, pvalues[i] * n / rank)
        out[i] = min(1.0, running)
    return out
