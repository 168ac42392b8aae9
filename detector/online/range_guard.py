"""Range guard: a value beyond the range the series has shown is anomalous, whatever the model.

Numenta's NAB HTM detector (``nab/detectors/numenta/numenta_detector.py``) reports a "spatial
anomaly", score 1.0, whenever a value falls outside the minimum..maximum seen so far widened by
5% of that range; it catches slow drifts and ramps to unprecedented levels that an adaptive
forecaster tracks (its residuals stay small) and that are nevertheless the incident. Here:

* the range slowly forgets (both ends move towards the midpoint by ``decay`` of the
  half-range per point), so a long-lived series is judged against its recent range;
* it is checked only after ``range_warmup`` points (a short history has a narrow range, and
  iid noise sets new records often early on);
* the score is graded rather than 1.0: a value ``e`` range widths beyond the range
  (``e > tolerance``) scores ``max(inner, base + (1 - base) * e / (e + half_excess))``, so a
  far excursion outranks a marginal new record; inside the range the wrapped detector's
  score is passed through.

State: three floats and a counter per series.
"""

from __future__ import annotations

from detector.online.base import AnomalyDetector

__all__ = ["RangeGuard"]


class RangeGuard:
    """Scores 1.0 a value beyond the (slowly forgetting) observed range widened by
    ``tolerance`` of it; else the wrapped detector's score.

    >>> from detector.online.level_spike import LevelSpikeDetector
    >>> det = RangeGuard(LevelSpikeDetector(), range_warmup=100)
    >>> for i in range(200):
    ...     det.learn_one(float(i % 10), 60.0 * i)
    >>> t = 60.0 * 200
    >>> det.score_one(5.0, t) < 0.5, det.score_one(9.4, t) < 0.5, det.score_one(20.0, t) > 0.8
    (True, True, True)
    """

    def __init__(
        self,
        detector: AnomalyDetector,
        tolerance: float = 0.05,
        decay: float = 1e-4,
        range_warmup: int = 300,
        base: float = 0.6,
        half_excess: float = 0.03,
    ) -> None:
        self.detector = detector
        self.tolerance = tolerance
        self.decay = decay
        self.range_warmup = range_warmup
        self.base = base
        self.half_excess = half_excess
        self.n_ = 0
        self.lo_ = 0.0
        self.hi_ = 0.0

    def excess(self, x: float) -> float:
        """How far ``x`` lies beyond the range, in range widths (0 inside or in warm-up)."""
        if self.n_ < self.range_warmup or self.hi_ <= self.lo_:
            return 0.0
        return max(x - self.hi_, self.lo_ - x, 0.0) / (self.hi_ - self.lo_)

    def score_one(self, x: float, t: float) -> float:
        score = self.detector.score_one(x, t)
        e = self.excess(x)
        if e <= self.tolerance:
            return score
        if e == float("inf"):
            return 1.0
        return max(score, self.base + (1.0 - self.base) * e / (e + self.half_excess))

    def learn_one(self, x: float, t: float) -> None:
        if self.n_ == 0:
            self.lo_ = self.hi_ = x
        else:
            half = 0.5 * (self.hi_ - self.lo_)
            self.hi_ = max(self.hi_ - self.decay * half, x)
            self.lo_ = min(self.lo_ + self.decay * half, x)
        self.n_ += 1
        self.detector.learn_one(x, t)

    def forecast(self, t: float) -> tuple[float, float]:
        """The wrapped detector's ``forecast`` (``AttributeError`` if it has none)."""
        return self.detector.forecast(t)  # type: ignore[attr-defined, no-any-return]
