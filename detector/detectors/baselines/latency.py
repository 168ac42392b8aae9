"""Latency baseline: an exponentially decayed histogram of request durations."""

from __future__ import annotations

from collections.abc import Sequence

from detector.windows.stats import NBUCKETS, quantile, quantile_bucket


class LatencyBaseline:
    """Decayed latency histogram; quantiles and exceedance shares come from it.

    >>> from detector.windows.stats import NBUCKETS
    >>> b = LatencyBaseline()
    >>> h = [0] * NBUCKETS
    >>> h[30] = 90; h[35] = 10
    >>> b.learn(h)
    >>> b.total > 0 and b.quantile(0.5) < b.quantile(0.95)
    True
    """

    __slots__ = ("hist", "total", "decay")

    def __init__(self, decay: float = 0.98) -> None:
        self.hist = [0.0] * NBUCKETS
        self.total = 0.0
        self.decay = decay

    def learn(self, h: Sequence[int]) -> None:
        d = self.decay
        # In place (the list may be shared), one comprehension: per series-window, hot.
        self.hist[:] = [x * d + c for x, c in zip(self.hist, h, strict=True)]
        self.total = self.total * d + sum(h)

    def copy(self) -> LatencyBaseline:
        """A frozen copy: what this baseline knew at one moment (e.g. a deploy)."""
        out = LatencyBaseline(self.decay)
        out.hist = list(self.hist)
        out.total = self.total
        return out

    def quantile(self, q: float) -> float | None:
        return quantile(self.hist, q)

    def threshold_bucket(self, q: float) -> int:
        return quantile_bucket(self.hist, q)

    def share_above(self, bucket: int) -> float:
        """Share of the baseline's requests in buckets above ``bucket``."""
        if self.total <= 0:
            return 0.0
        return sum(self.hist[bucket + 1 :]) / self.total
