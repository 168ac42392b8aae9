"""Change detection on per-window counts: a one-sided Bernoulli CUSUM.

A window holds ``n`` trials of which ``k`` are "hits" (e.g. requests slower than
a reference p90). Under the reference a hit has probability ``q0``; the CUSUM
accumulates the log-likelihood ratio of a shifted ``q1`` against ``q0`` and
resets at zero, so small persistent shifts add up while noise drains away.
Under ``q0`` the likelihood ratio is a nonnegative martingale, so by Ville's
inequality one excursion reaches ``S`` with probability at most ``exp(-S)``:
a threshold of ``log(1/alpha)`` is a test at level ``alpha`` per excursion.
"""

from __future__ import annotations

import math


class BernoulliCusum:
    """One-sided CUSUM of a hit share shifting from ``q0`` up to ``q1 = lift * q0``.

    Stateless: the caller keeps the statistic (a float), which keeps
    detector state plain data.

    >>> c = BernoulliCusum(q0=0.1, lift=2.5)
    >>> s = 0.0
    >>> for _ in range(30):
    ...     s = c.step(s, k=1, n=10)  # hits at the reference rate: drains to 0
    >>> s
    0.0
    >>> for _ in range(10):
    ...     s = c.step(s, k=3, n=10)  # three times the reference rate: builds up
    >>> s > math.log(1e6), c.p_value(s) < 1e-6
    (True, True)
    """

    __slots__ = ("hit", "miss")

    def __init__(self, q0: float, lift: float) -> None:
        q0 = min(max(q0, 1e-4), 0.5)
        q1 = min(q0 * lift, 0.5 + q0 / 2)  # a shift beyond even odds is no longer small
        self.hit = math.log(q1 / q0)
        self.miss = math.log((1.0 - q1) / (1.0 - q0))

    def llr(self, k: int, n: int) -> float:
        """Log-likelihood ratio of ``k`` hits in ``n`` trials, shifted against reference."""
        return k * self.hit + (n - k) * self.miss

    def step(self, s: float, k: int, n: int) -> float:
        """The statistic after one more window (never below zero)."""
        return max(0.0, s + self.llr(k, n))

    @staticmethod
    def p_value(s: float) -> float:
        """Bound on the chance that one excursion under the reference reaches ``s``."""
        return math.exp(-s) if s < 700 else 0.0
