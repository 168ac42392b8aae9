"""Anomaly likelihood: re-express a detector's raw scores against that series' own history.

After Numenta's ``AnomalyLikelihood`` (nupic/htm.core ``anomaly_likelihood.py``; Ahmad et al.
2017, "Unsupervised real-time anomaly detection for streaming data", section 3.3). A raw score
of 0.6 is routine on a bursty series and alarming on a calm one; the likelihood makes scores
comparable across series, so that one threshold serves all of them:

* the short-term average ``m`` of the last ``average_window`` raw scores is compared with a
  Gaussian (``mean``, ``std``) fitted to the history of those averages;
* ``likelihood = Phi((m - mean) / std)`` (one-sided: a quieter than usual stretch is not
  anomalous, where Numenta's tail probability is two-sided);
* the score is Numenta's ``computeLogLikelihood``, ``log(1 - likelihood) / log(1e-10)``
  clipped to [0, 1], which spreads the interesting range (likelihood 0.999 .. 0.9999999999)
  over [0.3, 1]: a threshold near 0.5 is a tail probability of about 1e-5.

The history is either a ring buffer of the last ``history`` averages re-fitted every
``reestimation_period`` points (Numenta's scheme, ``history > 0``), or an exponentially
weighted mean and variance with rate ``1 / ew_span`` (``history = 0``, a few floats per
series). Until ``learning_period + estimation_samples`` points were learned the score is 0.
Bounds on the fitted distribution (``min_mean``, ``min_std``) keep a series whose raw scores
are almost always 0 from alarming on the slightest blip, as Numenta's ``estimateNormal`` does.
"""

from __future__ import annotations

import math
from collections import deque

from detector.online.base import AnomalyDetector

__all__ = ["AnomalyLikelihood", "log_likelihood"]

_LOG_EPS = math.log(1.0 - 0.9999999999)


def log_likelihood(likelihood: float) -> float:
    """Numenta's ``computeLogLikelihood``: 0.5 -> 0.03, 0.999 -> 0.3, 0.99999 -> 0.5.

    >>> [round(log_likelihood(p), 2) for p in (0.5, 0.999, 0.99999, 1.0)]
    [0.03, 0.3, 0.5, 1.0]
    """
    return min(1.0, max(0.0, math.log(1.0000000001 - likelihood) / _LOG_EPS))


class AnomalyLikelihood:
    """Wraps a raw detector (``score_one`` / ``learn_one`` in [0, 1]) and reports the log
    likelihood of its recent scores under their own long-run distribution.

    >>> from detector.online.level_spike import LevelSpikeDetector
    >>> import random
    >>> rng = random.Random(0)
    >>> det = AnomalyLikelihood(LevelSpikeDetector(), learning_period=100, estimation_samples=50)
    >>> for i in range(600):
    ...     det.learn_one(100 + rng.gauss(0, 1), 60.0 * i)
    >>> det.score_one(100.5, 60.0 * 600) < 0.3, det.score_one(130.0, 60.0 * 600) > 0.5
    (True, True)
    """

    # score_one memoises the wrapped detector's raw score for the learn_one that follows: a
    # value computed from the learned state, never part of it (learn_one clears it).
    CACHES: tuple[str, ...] = ("_last",)

    def __init__(
        self,
        detector: AnomalyDetector,
        learning_period: int = 288,
        estimation_samples: int = 100,
        history: int = 8640,
        reestimation_period: int = 100,
        ew_span: float = 2000.0,
        average_window: int = 10,
        min_mean: float = 0.03,
        min_std: float = math.sqrt(0.0003),
        two_sided: bool = False,
    ) -> None:
        self.detector = detector
        self.learning_period = learning_period
        self.estimation_samples = estimation_samples
        self.history = history
        self.reestimation_period = reestimation_period
        self.ew_span = ew_span
        self.average_window = average_window
        self.min_mean = min_mean
        self.min_std = min_std
        self.two_sided = two_sided

        self.n_ = 0
        self.recent_: deque[float] = deque(maxlen=max(average_window, 1))
        self.recent_sum_ = 0.0
        self.averages_: deque[float] = deque(maxlen=max(history, 1))
        self.mean_ = 0.0  # fitted distribution of the short-term averages
        self.std_ = 0.0
        self.ew_mean_ = 0.0  # EW estimate (history = 0)
        self.ew_var_ = 0.0
        self.n_ew_ = 0
        self.since_fit_ = 0
        self.fitted_ = False
        self._last: tuple[float, float, float] | None = None  # (x, t, raw) from score_one

    # -- internals ---------------------------------------------------------------------------

    def _raw(self, x: float, t: float) -> float:
        last = self._last
        if last is not None and last[0] == x and last[1] == t:
            return last[2]
        raw = self.detector.score_one(x, t)
        self._last = (x, t, raw)
        return raw

    def _average(self, raw: float) -> float:
        """Short-term average if ``raw`` joined the window."""
        window = self.recent_
        total = self.recent_sum_ + raw
        n = len(window) + 1
        if window.maxlen is not None and len(window) == window.maxlen:
            total -= window[0]
            n -= 1
        return total / n

    def likelihood(self, average: float) -> float:
        """``Phi`` of a short-term average under the fitted distribution (0.5 if unfitted)."""
        if not self.fitted_:
            return 0.5
        mean = max(self.mean_, self.min_mean)
        std = max(self.std_, self.min_std)
        z = (average - mean) / std
        if self.two_sided:
            z = abs(z)
        return 1.0 - 0.5 * math.erfc(z / math.sqrt(2.0))

    def _fit(self) -> None:
        if self.history > 0:
            skip = max(0, self.learning_period - (self.n_ - len(self.averages_)))
            values = list(self.averages_)[skip:]
            if not values:
                return
            mean = math.fsum(values) / len(values)
            var = math.fsum((v - mean) ** 2 for v in values) / len(values)
            self.mean_, self.std_ = mean, math.sqrt(var)
        else:
            self.mean_, self.std_ = self.ew_mean_, math.sqrt(self.ew_var_)
        self.fitted_ = True

    # -- public API --------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self.n_ >= self.learning_period + self.estimation_samples

    def score_one(self, x: float, t: float) -> float:
        """Log likelihood in [0, 1] of ``x`` at ``t`` (0 while still learning)."""
        raw = self._raw(x, t)
        if not self.ready:
            return 0.0
        return log_likelihood(self.likelihood(self._average(raw)))

    def learn_one(self, x: float, t: float) -> None:
        raw = self._raw(x, t)
        average = self._average(raw)
        window = self.recent_
        if window.maxlen is not None and len(window) == window.maxlen:
            self.recent_sum_ -= window[0]
        window.append(raw)
        self.recent_sum_ += raw
        if self.n_ % 1000 == 0:  # no drift of the running sum
            self.recent_sum_ = math.fsum(window)
        self.n_ += 1
        if self.history > 0:
            self.averages_.append(average)
        elif self.n_ > self.learning_period:
            self.n_ew_ += 1
            a = max(1.0 / self.ew_span, 1.0 / self.n_ew_)
            d = average - self.ew_mean_
            self.ew_mean_ += a * d
            self.ew_var_ = (1.0 - a) * (self.ew_var_ + a * d * d)
        self.since_fit_ += 1
        if self.ready and (not self.fitted_ or self.since_fit_ >= self.reestimation_period):
            self._fit()
            self.since_fit_ = 0
        if self.history <= 0 and self.fitted_:
            self.mean_, self.std_ = self.ew_mean_, math.sqrt(self.ew_var_)
        self._last = None
        self.detector.learn_one(x, t)

    def forecast(self, t: float) -> tuple[float, float]:
        """The wrapped detector's ``forecast`` (``AttributeError`` if it has none)."""
        return self.detector.forecast(t)  # type: ignore[attr-defined, no-any-return]
