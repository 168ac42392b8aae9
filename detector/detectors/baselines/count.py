"""Seasonal count baseline: damped Holt level/trend, a daily profile, over-dispersion.

Counts per window are Poisson-like with extra variance (bursts, marketing
bumps). The variance is modelled as ``dispersion * expected + (0.03*expected)^2``
with the dispersion learned from Pearson residuals, so a noisy route needs a
bigger deviation than a steady one before anything is raised.

Beside the fast level, a slow level (about an hour of memory) keeps what the
route looked like before a ramp: a rise to several times the level over half
an hour is followed by the fast level, so a spike is judged against both.
"""

from __future__ import annotations

import math

DAY = 86400.0
SLOTS = 48  # half-hour slots of the daily profile
SLOT_SECONDS = DAY / SLOTS
LAG_EVERY = 5  # windows between two samples of the level kept for ramps
LAGS = 6  # samples kept: half an hour of one-minute windows
SLOW_ALPHA = 1 / 60  # the slow level's memory: about an hour of one-minute windows


class CountBaseline:
    """Online forecast of a per-window count that follows growth and daily seasonality.

    The daily profile is switched on once a full day has been seen (before that
    the damped trend follows the ramp of the day).

    >>> b = CountBaseline()
    >>> for i in range(60):
    ...     b.learn(100.0 + (i % 3), i * 60.0)
    >>> e, var = b.forecast(60 * 60.0)
    >>> 95 < e < 106 and var > 0
    True
    """

    __slots__ = (
        "level",
        "trend",
        "dispersion",
        "n",
        "t0",
        "season",
        "slot_sum",
        "slot_n",
        "alpha",
        "beta",
        "phi",
        "gamma",
        "slow",
        "lags",
        "lag_disp",
    )

    def __init__(
        self, alpha: float = 0.12, beta: float = 0.01, phi: float = 0.95, gamma: float = 0.03
    ) -> None:
        self.alpha = alpha
        self.beta = beta
        self.phi = phi
        self.gamma = gamma
        self.level: float | None = None
        self.trend = 0.0
        self.dispersion = 1.0
        self.n = 0
        self.t0 = 0.0
        self.season: list[float] | None = None
        self.slot_sum = [0.0] * SLOTS
        self.slot_n = [0] * SLOTS
        self.slow: float | None = None  # deseasonalised, like level; None in older snapshots
        # The level every LAG_EVERY learned windows over the last half hour, deseasonalised:
        # the lowest is where a ramp that both levels followed started from.
        self.lags: list[float] = []
        # The dispersion at the same samples (absent in older snapshots): a ramp that was
        # learned inflated it as much as it lifted the level.
        self.lag_disp: list[float] = []

    def _factor(self, t: float) -> float:
        s = self.season
        if s is None:
            return 1.0
        # Linear interpolation between slot centres avoids steps at slot edges.
        pos = (t % DAY) / SLOT_SECONDS - 0.5
        i = math.floor(pos)
        frac = pos - i
        return s[i % SLOTS] * (1 - frac) + s[(i + 1) % SLOTS] * frac

    def forecast(self, t: float) -> tuple[float, float]:
        """(expected count, variance) for the window starting at ``t``."""
        if self.level is None:
            return 0.0, 1.0
        e = max(0.0, self.level + self.phi * self.trend) * self._factor(t)
        var = self.dispersion * max(e, 1.0) + (0.03 * e) ** 2
        return e, var

    def slow_forecast(self, t: float) -> float:
        """Expected count at ``t`` by the slow level: what the route did before a ramp."""
        slow: float | None = getattr(self, "slow", None)  # absent in older snapshots
        if slow is None:
            return self.forecast(t)[0]
        return slow * self._factor(t)

    def ramp_forecast(self, t: float) -> float:
        """Expected count at ``t`` by the lowest level of the last half hour (see lags)."""
        lags: list[float] = getattr(self, "lags", None) or []  # absent in older snapshots
        slow = self.slow_forecast(t)
        return min(slow, min(lags) * self._factor(t)) if lags else slow

    def rewind_to_ramp(self, t: float) -> None:
        """Forget a ramp the fast level followed: back to :meth:`ramp_forecast`'s level,
        and to the lowest dispersion of the same half hour.

        >>> b = CountBaseline()
        >>> for i in range(60):
        ...     b.learn(10.0 + (i >= 40) * (i - 40) * 2.0, i * 60.0)  # a ramp from window 40
        >>> b.forecast(3600.0)[0] > 30 > 15 > b.ramp_forecast(3600.0)
        True
        >>> inflated = b.dispersion
        >>> b.rewind_to_ramp(3600.0)
        >>> round(b.forecast(3600.0)[0], 1) == round(b.ramp_forecast(3600.0), 1)
        True
        >>> b.dispersion < inflated  # as noisy as before the ramp
        True
        """
        if self.level is None:
            return
        f = self._factor(t)
        low = self.ramp_forecast(t) / f if f > 1e-6 else self.level
        if low < self.level:
            self.level = low
            self.trend = 0.0
            calm = getattr(self, "lag_disp", None)
            if calm:
                self.dispersion = min(self.dispersion, min(calm))

    def learn(self, x: float, t: float) -> None:
        if self.level is None:
            self.level = x
            self.slow = x
            self.t0 = t
            self.n = 1
            return
        e, var = self.forecast(t)
        sd = math.sqrt(var)
        # Winsorise: a point far from the forecast moves the baseline only a little.
        xc = min(max(x, e - 4 * sd), e + 4 * sd) if self.n >= 10 else x
        r = (xc - e) / math.sqrt(max(e, 1.0))
        if self.n >= 5:
            self.dispersion = max(1.0, min(50.0, 0.97 * self.dispersion + 0.03 * r * r))
        f = self._factor(t)
        prev = self.level
        target = xc / f if f > 1e-6 else xc
        self.level = self.alpha * target + (1 - self.alpha) * (prev + self.phi * self.trend)
        self.trend = self.beta * (self.level - prev) + (1 - self.beta) * self.phi * self.trend
        slow = getattr(self, "slow", None)
        self.slow = prev if slow is None else slow + SLOW_ALPHA * (target - slow)
        slot = int((t % DAY) // SLOT_SECONDS)
        if self.season is None:
            self.slot_sum[slot] += xc
            self.slot_n[slot] += 1
            if t - self.t0 >= DAY:
                self._start_season()
        elif self.level > 1e-6:
            s = self.season
            s[slot] = (1 - self.gamma) * s[slot] + self.gamma * min(10.0, xc / self.level)
        self.n += 1
        if self.n % LAG_EVERY == 0:
            lags = getattr(self, "lags", None)
            if lags is None:
                lags = self.lags = []
            lags.append(self.level)
            disp = getattr(self, "lag_disp", None)
            if disp is None:
                disp = self.lag_disp = []
            disp.append(self.dispersion)
            if len(lags) > LAGS:
                del lags[0]
            if len(disp) > LAGS:
                del disp[0]

    def _start_season(self) -> None:
        means = [
            self.slot_sum[i] / self.slot_n[i] if self.slot_n[i] else None for i in range(SLOTS)
        ]
        known = [m for m in means if m is not None]
        overall = sum(known) / len(known) if known else 0.0
        if overall <= 0:
            self.season = [1.0] * SLOTS
        else:
            filled = [m if m is not None else overall for m in means]
            self.season = [max(0.05, m / overall) for m in _median3(filled)]
        f = self._factor(self.t0 + DAY)
        if self.level is not None and f > 1e-6:
            self.level /= f
            self.trend /= f
            slow = getattr(self, "slow", None)
            self.slow = None if slow is None else slow / f
            self.lags = [v / f for v in getattr(self, "lags", None) or []]

    def skip_zeros(self, m: int) -> None:
        """Learn ``m`` empty windows at once (a dormant, low-volume series catching up).

        Closed form of ``m`` updates with x = 0 for the level and trend; the
        daily profile and dispersion are left alone (zeros say little there).
        """
        if self.level is None or m <= 0:
            return
        keep = (1 - self.alpha) ** m
        self.level *= keep
        slow = getattr(self, "slow", None)
        if slow is not None:
            self.slow = slow * (1 - SLOW_ALPHA) ** m
        self.trend *= (self.phi * (1 - self.beta)) ** m
        self.n += m

    def reset_to(self, x: float) -> None:
        """Accept a new normal (after a long-lasting change): restart the level at ``x``."""
        f = 1.0 if self.season is None else max(1e-6, sum(self.season) / SLOTS)
        self.level = x / f
        self.slow = self.level
        self.lags = []
        self.lag_disp = []
        self.trend = 0.0


def _median3(values: list[float]) -> list[float]:
    """Each slot's median with its two neighbours (the day wraps round).

    One day is all the profile starts from, and a slot that stands alone above (or
    below) both neighbours is more likely an anomaly's than the day's: a ramped spike's
    climb is learned until the test is sure, and when the rest of its slot was flagged
    the slot's mean is the climb's top alone (fresh seed 66002: x4 of its neighbours;
    the day after, that slot's factor dragged the level down and the next slot read
    its usual traffic as a spike). A day's shape (a morning rise, a night trough) is
    monotone over three half-hours and kept; later days correct the profile as before.

    >>> _median3([1.0, 1.0, 4.0, 1.2, 1.3, 1.4])
    [1.0, 1.0, 1.2, 1.3, 1.3, 1.3]
    """
    n = len(values)
    return [sorted((values[i - 1], values[i], values[(i + 1) % n]))[1] for i in range(n)]

