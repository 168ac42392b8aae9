"""Two-sample comparisons of binned data: a version against the one before it, or a
canary against the version serving beside it.

Both samples are histograms over the same buckets (latency buckets of
:data:`detector.windows.stats.BOUNDS`, response-size buckets of
:func:`detector.windows.stats.size_bucket`), so every test here costs one pass
over the buckets, whatever the traffic. Counts may be decayed (floats).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

from detector.detectors.small_counts import binom_sf
from detector.windows.stats import hist_quantile

__all__ = ["Shift", "hist_quantile", "share_above", "share_below", "shift"]


class Shift(NamedTuple):
    """How far sample ``after`` lies above sample ``before``.

    ``superiority`` is P(after > before) + P(tie) / 2 (0.5: no shift), ``z`` and
    ``p_value`` the one-sided Mann-Whitney test of it (normal approximation with
    the tie correction), ``median_ratio`` and ``upper_ratio`` the ratios of the
    medians and of the upper quantiles (``upper``, 0.9 by default).
    """

    superiority: float
    z: float
    p_value: float
    median_ratio: float
    upper_ratio: float
    before_n: float
    after_n: float


def _norm_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def shift(before: Sequence[float], after: Sequence[float], value_of: Callable[[int], float],
          upper: float = 0.9) -> Shift | None:
    """Mann-Whitney comparison of two histograms over the same buckets (None if one is empty).

    >>> a = [0] * 10; b = [0] * 10
    >>> a[3] = 400; a[4] = 100; b[6] = 300; b[7] = 100
    >>> s = shift(a, b, lambda i: 2.0 ** i)
    >>> s.superiority, s.p_value < 1e-12, s.median_ratio, s.upper_ratio
    (1.0, True, 8.0, 8.0)
    >>> same = shift(a, a, lambda i: 2.0 ** i)
    >>> same.superiority, round(same.p_value, 2), same.median_ratio
    (0.5, 0.5, 1.0)
    """
    n0 = float(sum(before))
    n1 = float(sum(after))
    if n0 <= 0 or n1 <= 0:
        return None
    u = 0.0
    below = 0.0  # ``before`` mass in lower buckets
    ties = 0.0
    for a, b in zip(before, after, strict=False):
        if b:
            u += b * (below + 0.5 * a)
        below += a
        t = a + b
        if t > 1:
            ties += t * t * t - t
    n = n0 + n1
    mean = n0 * n1 / 2.0
    var = n0 * n1 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0))) if n > 1 else 0.0
    z = (u - mean) / math.sqrt(var) if var > 0 else 0.0
    m0 = hist_quantile(before, 0.5, value_of) or 0.0
    m1 = hist_quantile(after, 0.5, value_of) or 0.0
    q0 = hist_quantile(before, upper, value_of) or 0.0
    q1 = hist_quantile(after, upper, value_of) or 0.0
    return Shift(
        superiority=u / (n0 * n1),
        z=z,
        p_value=_norm_sf(z),
        median_ratio=m1 / m0 if m0 > 0 else math.inf if m1 > 0 else 1.0,
        upper_ratio=q1 / q0 if q0 > 0 else math.inf if q1 > 0 else 1.0,
        before_n=n0,
        after_n=n1,
    )


def share_above(k1: int, n1: int, k0: int, n0: int) -> float:
    """One-sided p-value that share ``k1/n1`` lies above share ``k0/n0`` (two samples).

    Conditional on the ``k0 + k1`` hits, the second sample's hits are binomial
    with its share of the requests under the null: exact at any count, and a
    baseline with no hit at all (``k0 = 0``) still lets new hits count.

    >>> share_above(30, 300, 9, 3000) < 1e-15, round(share_above(3, 300, 30, 3000), 2)
    (True, 0.59)
    >>> share_above(0, 10, 5, 100)
    1.0
    """
    k = k0 + k1
    n = n0 + n1
    if k1 <= 0 or n1 <= 0 or n <= 0:
        return 1.0
    return binom_sf(k1, k, n1 / n)


def share_below(k1: int, n1: int, k0: int, n0: int) -> float:
    """One-sided p-value that share ``k1/n1`` lies below share ``k0/n0`` (two samples).

    >>> share_below(0, 400, 200, 1000) < 1e-20, round(share_below(20, 100, 200, 1000), 2)
    (True, 0.56)
    """
    k = k0 + k1
    n = n0 + n1
    if k0 <= 0 or n0 <= 0 or n <= 0:
        return 1.0
    return binom_sf(k0, k, n0 / n)
