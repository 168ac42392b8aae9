"""Exact upper tails for small counts: binomial, and beta-binomial for an uncertain baseline.

A route with a few requests a minute has a baseline share known from a few
hundred requests at best. Testing its hits against that share as if it were
exact (binomial) pages on a route whose true share is a little higher than
its short history says; the beta-binomial is the predictive law of the hits
when the share itself is only known as Beta(a, b), the baseline's pseudo-counts.
Its tail is heavy while the history is thin and becomes the binomial's as it grows.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import bdtrc, betaln, gammaln

_CHUNK = 256  # tail terms summed per step: the tail of a surge is short


def binom_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p).

    >>> round(binom_sf(2, 10, 0.01), 5)
    0.00427
    """
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return float(bdtrc(k - 1, n, p))


def betabinom_sf(k: int, n: int, a: float, b: float) -> float:
    """P(X >= k) for X ~ BetaBinomial(n, a, b), summed exactly from k upwards.

    >>> round(betabinom_sf(2, 10, 1.0, 99.0), 5)  # mean share 1 %: heavier than binom_sf's
    0.00765
    >>> betabinom_sf(12, 40, 10.0, 990.0) < 1e-6 < betabinom_sf(12, 40, 0.25, 49.75)
    True
    """
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    log_norm = float(gammaln(n + 1) - betaln(a, b))
    total = 0.0
    j0 = k
    while j0 <= n:
        j = np.arange(j0, min(n, j0 + _CHUNK - 1) + 1, dtype=np.float64)
        logs = log_norm - gammaln(j + 1) - gammaln(n - j + 1) + betaln(j + a, n - j + b)
        terms = np.exp(logs)
        total += float(terms.sum())
        # Past the mode the terms only shrink: stop once they no longer count.
        if terms[-1] <= total * 1e-12 and logs[-1] <= logs[0]:
            break
        j0 += _CHUNK
    return min(1.0, total) if math.isfinite(total) else 1.0
