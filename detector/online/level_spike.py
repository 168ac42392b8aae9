"""Online level/spike detector for one scalar series with daily/weekly seasonality and trend.

Model, per instance (~300 floats, no history kept):

* baselines: three damped Holt (level + trend, error-correction form) forecasters run side by
  side: plain, with a daily profile (``n_bins`` bins) and with a weekly profile
  (``n_bins_week`` bins), profiles linearly interpolated between bin centres. A seasonal one is
  eligible after ``min_periods`` of its periods and is used while its slow residual error is
  lowest. Until eligible, a profile learns every point in full (else sharp daily edges, which
  look like outliers at first, would never be learned).
* residual scale: EW mean absolute deviation of the residuals, fast and slow; scale =
  ``1.2533 * max(fast, floor_ratio * slow, rel_floor * typical |x|)`` (a Gaussian sigma).
* horizons: a spike is ``|x - forecast| / scale``; a level shift is the gap between a fast and
  a slow EW mean of the deseasonalised series over the slow scale of that gap. The larger of
  the two (``z``, in sigmas) is calibrated against the series' own history (EW mean and
  deviation of ``log1p(z)``), so a bursty series does not alarm on its usual bursts; the
  calibrated ``c`` becomes the score ``c^2 / (c^2 + z0^2)`` (0 when ``c <= 0``). Repeats:
  within ``repeat_window`` points of an episode's peak, a point that does not exceed the peak
  is scored ``repeat_damping`` times lower, so one incident reads as one alert at its onset
  (a sustained anomaly still scores well above normal points).
* robustness: a point beyond ``clip`` sigmas is learned with its residual winsorised to
  ``clip`` sigmas and at ``anomaly_weight`` of the normal rate, so an anomaly barely moves the
  baseline. Permanent change: after ``relearn_after`` out-of-band points (a normal point
  shortens the run by one) every baseline is shifted by the run's mean residual and its scale
  widened to the run's spread, so a new level is absorbed after about ``relearn_after`` points.
* time: learning rates are per typical step; a gap of ``k`` typical steps uses
  ``1 - (1 - a) ** k``, the typical step being a robust running estimate, so irregular
  timestamps are fine. ``t`` is in seconds (the seasonal phase is ``t mod period``, so epoch
  seconds in UTC give UTC days).
"""

from __future__ import annotations

import math

__all__ = ["LevelSpikeDetector"]

_MAD_TO_SIGMA = 1.2533
_DAY = 86400.0
_WEEK = 7 * _DAY


def _rate(a: float, k: float) -> float:
    """Learning rate for a gap of ``k`` typical steps."""
    return float(1.0 - (1.0 - a) ** k)


class _Baseline:
    """Damped Holt forecaster with an optional additive seasonal profile."""

    __slots__ = ("fit", "level", "mad", "period", "season", "slow", "trend", "visits")

    def __init__(self, x: float, period: float, n_bins: int) -> None:
        self.level = x
        self.trend = 0.0
        self.mad = 0.0  # fast EW mean |residual|
        self.slow = 0.0  # slow EW mean |residual|
        self.fit = 0.0  # slow EW mean |residual|, barely winsorised: model selection
        self.period = period
        self.season = [0.0] * n_bins
        self.visits = [0.0] * n_bins

    def _phase(self, t: float) -> tuple[int, int, float]:
        n = len(self.season)
        p = (t % self.period) / self.period * n - 0.5
        i0 = math.floor(p)
        return i0 % n, (i0 + 1) % n, p - i0

    def seasonal(self, t: float) -> float:
        if not self.season:
            return 0.0
        i0, i1, w = self._phase(t)
        return (1.0 - w) * self.season[i0] + w * self.season[i1]

    def predict(self, t: float, damp: float) -> float:
        return self.level + damp * self.trend + self.seasonal(t)

    def learn_season(self, t: float, e: float, rate: float) -> None:
        if not self.season:
            return
        i0, i1, w = self._phase(t)
        for i, share in ((i0, 1.0 - w), (i1, w)):
            if share > 0.0:
                self.visits[i] += share
                self.season[i] += max(rate, share / self.visits[i]) * share * e


class LevelSpikeDetector:
    """Robust online baseline (level, damped trend, daily/weekly profile) scoring spikes and
    level shifts in [0, 1]; exposes its ``forecast(t) -> (expected, sigma)``.

    >>> import random
    >>> rng = random.Random(0)
    >>> det = LevelSpikeDetector()
    >>> for i in range(300):
    ...     det.learn_one(100 + rng.gauss(0, 1), 60.0 * i)
    >>> det.score_one(101.0, 60.0 * 300) < 0.2, det.score_one(130.0, 60.0 * 300) > 0.7
    (True, True)
    >>> mean, sigma = det.forecast(60.0 * 300)
    >>> abs(mean - 100) < 1, 0.5 < sigma < 2
    (True, True)
    """

    def __init__(
        self,
        warmup: int = 30,
        alpha: float = 0.1,
        beta: float = 0.01,
        phi: float = 0.9,
        scale_alpha: float = 0.05,
        slow_alpha: float = 0.005,
        floor_ratio: float = 0.5,
        rel_floor: float = 0.01,
        min_scale: float = 1e-9,
        clip: float = 3.0,
        anomaly_weight: float = 0.1,
        relearn_after: int = 20,
        n_bins: int = 48,
        n_bins_week: int = 84,
        gamma: float = 0.1,
        min_periods: float = 2.0,
        season_gain: float = 1.0,
        season_level: float = 1.0,
        shift_fast: float = 0.2,
        shift_slow: float = 0.01,
        shift_weight: float = 1.0,
        calib_alpha: float = 0.002,
        calib_floor: float = 0.1,
        calib_outlier_weight: float = 1.0,
        repeat_window: int = 150,
        repeat_damping: float = 0.7,
        z0: float = 4.0,
    ) -> None:
        self.warmup = warmup
        self.alpha = alpha
        self.beta = beta
        self.phi = phi
        self.scale_alpha = scale_alpha
        self.slow_alpha = slow_alpha
        self.floor_ratio = floor_ratio
        self.rel_floor = rel_floor
        self.min_scale = min_scale
        self.clip = clip
        self.anomaly_weight = anomaly_weight
        self.relearn_after = relearn_after
        self.n_bins = n_bins
        self.n_bins_week = n_bins_week
        self.gamma = gamma
        self.min_periods = min_periods
        self.season_gain = season_gain
        self.season_level = season_level
        self.shift_fast = shift_fast
        self.shift_slow = shift_slow
        self.shift_weight = shift_weight
        self.calib_alpha = calib_alpha
        self.calib_floor = calib_floor
        self.calib_outlier_weight = calib_outlier_weight
        self.repeat_window = repeat_window
        self.repeat_damping = repeat_damping
        self.z0 = z0

        self.n_ = 0
        self.t0_ = 0.0
        self.t_last_ = 0.0
        self.dt_ = 0.0  # typical step, 0 until two points were seen
        self.models_: list[_Baseline] = []  # plain, daily, weekly
        self.magnitude_ = 0.0  # slow EW mean of |x|, for the relative scale floor
        self.fast_mean_ = 0.0  # level-shift horizon on the deseasonalised series
        self.slow_mean_ = 0.0
        self.gap_mad_ = 0.0
        self.u_mean_ = 0.0  # calibration: EW mean / variance of log1p(z)
        self.u_var_ = 0.0
        self.n_calib_ = 0
        self.peak_ = 0.0  # highest calibrated surprise of the current episode, and its age
        self.peak_age_ = 0
        self.run_ = 0  # current out-of-band run: length, mean residual, spread
        self.run_mean_ = 0.0
        self.run_mad_ = 0.0

    # -- internals ---------------------------------------------------------------------------

    def _steps(self, t: float) -> float:
        if self.n_ == 0 or self.dt_ <= 0.0:
            return 1.0
        return min(max((t - self.t_last_) / self.dt_, 0.25), 1000.0)

    def _damp(self, k: float) -> float:
        if self.phi >= 1.0:
            return k
        return float(self.phi * (1.0 - self.phi**k) / (1.0 - self.phi))

    def _eligible(self, m: _Baseline) -> bool:
        return not m.season or self.t_last_ - self.t0_ >= self.min_periods * m.period

    def _active(self) -> _Baseline:
        best = self.models_[0]
        for m in self.models_[1:]:
            if self._eligible(m) and m.fit < self.season_gain * best.fit:
                best = m
        return best

    def _scale(self, m: _Baseline) -> float:
        floor = max(self.rel_floor * self.magnitude_, self.min_scale)
        return max(_MAD_TO_SIGMA * max(m.mad, self.floor_ratio * m.slow), floor)

    def _z(self, x: float, t: float) -> float:
        m = self._active()
        k = self._steps(t)
        expected = m.predict(t, self._damp(k))
        z_spike = abs(x - expected) / self._scale(m)
        deseason = x - m.seasonal(t)
        fast = self.fast_mean_ + _rate(self.shift_fast, k) * (deseason - self.fast_mean_)
        gap_scale = max(
            _MAD_TO_SIGMA * self.gap_mad_, self.rel_floor * self.magnitude_, self.min_scale
        )
        z_shift = abs(fast - self.slow_mean_) / gap_scale
        return max(z_spike, self.shift_weight * z_shift)

    def _calibrated(self, z: float) -> float:
        """Raw sigmas re-expressed against this series' own history of log1p(sigmas)."""
        sd = max(math.sqrt(self.u_var_), self.calib_floor)
        return (math.log1p(z) - self.u_mean_) / sd

    # -- public API --------------------------------------------------------------------------

    def forecast(self, t: float) -> tuple[float, float]:
        """Expected value at ``t`` and the residual scale (a sigma) it is judged against."""
        if not self.models_:
            return 0.0, self.min_scale
        m = self._active()
        return m.predict(t, self._damp(self._steps(t))), self._scale(m)

    def score_one(self, x: float, t: float) -> float:
        """Anomaly score in [0, 1] of ``x`` at ``t``, computed before learning it."""
        if self.n_ < self.warmup:
            return 0.0
        c = self._calibrated(self._z(x, t))
        if c <= 0.0:
            return 0.0
        if not math.isfinite(c):
            return 1.0
        score = c * c / (c * c + self.z0 * self.z0)
        if c <= self.peak_ and self.peak_age_ < self.repeat_window:
            score *= self.repeat_damping  # same episode, not a new surprise
        return score

    def learn_one(self, x: float, t: float) -> None:
        """Update the baselines with ``x`` at ``t`` (damped if ``x`` is out of band)."""
        if self.n_ == 0:
            self._start(x, t)
            return
        k = self._steps(t)
        damp = self._damp(k)
        active = self._active()
        scale = self._scale(active)
        r = x - active.predict(t, damp)
        warm = self.n_ < self.warmup
        out = (not warm) and abs(r) > self.clip * scale
        weight = self.anomaly_weight if out else 1.0
        if self.n_ >= self.warmup // 2:
            self._learn_episode(x, t, weight)
        early = 1.0 / (self.n_ + 1)  # running-mean start so the first estimates are sane
        a_level = max(_rate(self.alpha, k), early)
        a_fast = max(_rate(self.scale_alpha, k), early)
        a_slow = max(_rate(self.slow_alpha, k), early)
        phi_k = self.phi**k
        for m in self.models_:
            learning = warm or not self._eligible(m)  # a profile still being learned
            w = 1.0 if learning else weight
            season = m.seasonal(t)
            e_raw = x - m.level - damp * m.trend - season
            c = self.clip * self._scale(m)
            e = e_raw if learning else max(-c, min(c, e_raw))
            a_m = a_level * (self.season_level if m.season else 1.0)
            m.level += damp * m.trend + a_m * w * e
            m.trend = phi_k * m.trend + self.beta * a_m * w * e
            m.mad += a_fast * w * (abs(e) - m.mad)
            m.slow += a_slow * w * (abs(e) - m.slow)
            m.fit += a_slow * (min(abs(e_raw), 3.0 * c) - m.fit)
            m.learn_season(t, e, self.gamma * (1.0 - self.alpha) * w)

        deseason = x - active.seasonal(t)
        if out:
            deseason += math.copysign(self.clip * scale, r) - r
        self.fast_mean_ += _rate(self.shift_fast, k) * (deseason - self.fast_mean_)
        self.slow_mean_ += max(_rate(self.shift_slow, k), early) * (deseason - self.slow_mean_)
        gap = abs(self.fast_mean_ - self.slow_mean_)
        self.gap_mad_ += a_slow * weight * (gap - self.gap_mad_)
        self.magnitude_ += a_slow * weight * (abs(x) - self.magnitude_)

        self._track_run(r, out)
        self.dt_ = self._update_dt(t)
        self.t_last_ = t
        self.n_ += 1

    def _start(self, x: float, t: float) -> None:
        self.models_ = [
            _Baseline(x, _DAY, 0),
            _Baseline(x, _DAY, self.n_bins),
            _Baseline(x, _WEEK, self.n_bins_week),
        ]
        self.fast_mean_ = self.slow_mean_ = x
        self.magnitude_ = abs(x)
        self.t0_ = self.t_last_ = t
        self.n_ = 1

    def _learn_episode(self, x: float, t: float, weight: float) -> None:
        """Track the episode peak (repeat damping) and the calibration statistics."""
        z = self._z(x, t)
        c = self._calibrated(z)
        if c > self.peak_ or self.peak_age_ >= self.repeat_window:
            self.peak_, self.peak_age_ = c, 0
        else:
            self.peak_age_ += 1
        u = math.log1p(min(z, 1e12))
        self.n_calib_ += 1
        a = max(self.calib_alpha, 1.0 / self.n_calib_) * max(weight, self.calib_outlier_weight)
        d = u - self.u_mean_
        self.u_mean_ += a * d
        self.u_var_ = (1.0 - a) * (self.u_var_ + a * d * d)

    def _update_dt(self, t: float) -> float:
        dt = t - self.t_last_
        if dt <= 0.0:
            return self.dt_
        if self.dt_ <= 0.0:
            return dt
        # robust running estimate: the log-step moves by at most 5% per point
        return self.dt_ * math.exp(0.05 * max(-1.0, min(1.0, math.log(dt / self.dt_))))

    def _track_run(self, r: float, out: bool) -> None:
        if not out:
            self.run_ = max(self.run_ - 1, 0)
            return
        if self.run_ == 0:
            self.run_mean_, self.run_mad_ = r, 0.0
        self.run_ += 1
        self.run_mean_ += 0.2 * (r - self.run_mean_)
        self.run_mad_ += 0.2 * (abs(r - self.run_mean_) - self.run_mad_)
        if self.run_ >= self.relearn_after:
            self._reanchor()

    def _reanchor(self) -> None:
        """A change that lasted ``relearn_after`` points is the new normal: adopt it."""
        for m in self.models_:
            m.level += self.run_mean_
            m.trend = 0.0
            m.mad = max(m.mad, self.run_mad_)
        self.fast_mean_ = self.slow_mean_ = self.slow_mean_ + self.run_mean_
        self.gap_mad_ = max(self.gap_mad_, self.run_mad_)
        self.run_ = 0
