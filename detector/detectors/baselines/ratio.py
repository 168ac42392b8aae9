"""Share baseline (5xx, 4xx, 401/403 per request) with exponential forgetting."""

from __future__ import annotations

import math

# A window with fewer requests forgets only in proportion to them: a quiet route
# keeps a memory of about as many requests as a busy one keeps windows.
FULL_DECAY_REQUESTS = 5


class RatioBaseline:
    """Expected share of requests with some property, e.g. a 5xx status.

    A weak prior keeps a new route from looking like it has a 0 % baseline.

    >>> b = RatioBaseline(prior=0.01)
    >>> for _ in range(100):
    ...     b.learn(2, 100)
    >>> round(b.share(), 3)
    0.02
    >>> a, b_ = b.beta()  # the share as Beta(a, b) pseudo-counts, prior included
    >>> round(a / (a + b_), 3)
    0.02
    """

    __slots__ = ("k", "n", "prior", "prior_weight", "decay")

    def __init__(
        self, prior: float = 0.005, prior_weight: float = 50.0, decay: float = 0.995
    ) -> None:
        self.k = 0.0
        self.n = 0.0
        self.prior = prior
        self.prior_weight = prior_weight
        self.decay = decay

    def share(self) -> float:
        return (self.k + self.prior * self.prior_weight) / (self.n + self.prior_weight)

    def beta(self) -> tuple[float, float]:
        """The share's uncertainty as Beta(a, b): hits and misses learned, plus the prior's."""
        a = self.k + self.prior * self.prior_weight
        return a, max(self.n + self.prior_weight - a, 1e-9)

    def learn(self, k: int, n: int, windows: int = 1) -> None:
        """Learn ``k`` hits in ``n`` requests spanning ``windows`` windows with traffic."""
        if n <= 0:
            return
        p = self.share()
        # Clip the hits of one window at a high quantile of the expectation, so
        # a burst the detector did not flag (too small to page) barely moves it.
        cap = n * p + 4 * math.sqrt(n * p * (1 - p)) + 2
        forget = self.decay ** min(float(windows), n / FULL_DECAY_REQUESTS)
        self.k = forget * self.k + min(float(k), cap)
        self.n = forget * self.n + n

    def reset_to(self, k: int, n: int) -> None:
        self.k = float(k)
        self.n = float(n)
