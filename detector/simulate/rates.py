"""Expected request rates per (minute, route): seasonality, growth, noise.

The day curve is a smooth bump centred on 14:00 UTC with its trough in the
small hours; weekends sit lower (``ServiceSpec.weekend``) with a later peak
(see ``weekly``); growth is linear over the run; a per-minute lognormal
factor adds the over-dispersion real traffic has beyond Poisson.
"""

from __future__ import annotations

import numpy as np

from detector.simulate.catalog import ServiceSpec, route_weights
from detector.simulate.weekly import WEEKEND_PEAK_SHIFT_H, weekend_weight

PEAK_HOUR = 14.0


def day_curve(hour_of_day: np.ndarray, phase_h: float | np.ndarray = 0.0) -> np.ndarray:
    """Relative load by UTC hour; daily mean close to 1, peak ~1.55, trough ~0.42.

    >>> c = day_curve(np.array([2.0, 14.0]))
    >>> bool(c[1] > 3 * c[0])
    True
    """
    d = (hour_of_day - PEAK_HOUR - phase_h + 12.0) % 24.0 - 12.0
    return np.asarray(0.35 + 1.2 * np.exp(-0.5 * (d / 5.0) ** 2))


def expected_rates(svc: ServiceSpec, start_ts: float, minutes: int, rate: float,
                   rng: np.random.Generator) -> np.ndarray:
    """Expected req/s, shape (minutes, routes). Bursty routes get their bursts here."""
    mid = start_ts + (np.arange(minutes) + 0.5) * 60.0
    hour = (mid % 86400.0) / 3600.0
    growth = 1.0 + rng.uniform(0.10, 0.20) * np.arange(minutes) / max(minutes, 1)
    noise = np.exp(rng.normal(0.0, rng.uniform(0.05, 0.10), minutes))
    week = weekend_weight(mid)
    if week.any():  # a weekday-only run keeps its rates bit for bit
        curve = day_curve(hour, svc.phase_h + WEEKEND_PEAK_SHIFT_H * week)
        curve *= 1.0 - (1.0 - svc.weekend) * week
    else:
        curve = day_curve(hour, svc.phase_h)
    level = svc.rate * rate * curve * growth * noise
    weights = np.asarray(route_weights(svc))
    lam = level[:, None] * weights[None, :]
    # A little independent wobble per route so routes do not move in lockstep.
    lam *= np.exp(rng.normal(0.0, 0.04, lam.shape))
    for j, r in enumerate(svc.routes):
        if r.flat:
            lam[:, j] = svc.rate * rate * weights[j]
        elif r.bursty:
            lam[:, j] = _bursts(minutes, svc.rate * rate * weights[j], rng)
    return np.asarray(lam)


def _bursts(minutes: int, mean_rate: float, rng: np.random.Generator) -> np.ndarray:
    """Batch-job traffic: silent, then 1-3 minute bursts every 20-60 minutes."""
    out = np.zeros(minutes)
    t = int(rng.integers(5, 40))
    while t < minutes:
        length = int(rng.integers(1, 4))
        out[t:t + length] = rng.uniform(0.5, 2.5)
        t += length + int(rng.integers(20, 60))
    total = out.sum()
    if total > 0:
        # Keep the long-run mean near the route's nominal share, but never
        # below a burst a person would notice.
        out *= max(mean_rate * minutes / total, 0.3 / out.max())
    return out


def marketing_bump(minutes: int, at: int, length: int = 20, lift: float = 0.3) -> np.ndarray:
    """Multiplier with a +``lift`` plateau of ``length`` minutes and 3-minute ramps."""
    m = np.arange(minutes, dtype=np.float64)
    ramp = np.clip(np.minimum(m - at + 1, at + length - m) / 3.0, 0.0, 1.0)
    return np.asarray(1.0 + lift * ramp)
