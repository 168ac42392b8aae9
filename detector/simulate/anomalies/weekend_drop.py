"""traffic_drop, shape ``weekend``: a route loses most of its traffic during the trough.

Weekend traffic is already low (``weekly``); on top of that the route falls
to 10-30 % of its expected weekend level for 30-60 minutes in the daytime (a
broken mobile release, a CDN rule). The drop is labelled, the trough is not.
"""

from __future__ import annotations

import numpy as np

from detector.simulate.anomalies.base import Anomaly, PlanContext
from detector.simulate.anomalies.traffic_drop import TrafficDrop
from detector.simulate.weekly import DAY_S, weekend_spans

MIN_RATE = 0.2  # req/s over the run: ~0.15 at a weekend noon, so a drop to 20 % shows
DAYTIME_H = (9.0, 21.0)  # UTC hours a weekend drop may span


def weekend_daytimes(t0: float, t1: float) -> list[tuple[float, float]]:
    """Daytime spans of the weekends in [t0, t1).

    >>> from datetime import datetime, UTC
    >>> t0 = datetime(2026, 3, 20, tzinfo=UTC).timestamp()
    >>> [((a - t0) / 3600, (b - t0) / 3600) for a, b in weekend_daytimes(t0, t0 + 72 * 3600)]
    [(33.0, 45.0), (57.0, 68.0)]
    """
    out = []
    for lo, hi in weekend_spans(t0, t1):
        day = np.floor(lo / DAY_S) * DAY_S
        while day < hi:
            a, b = max(lo, day + DAYTIME_H[0] * 3600.0), min(hi, day + DAYTIME_H[1] * 3600.0)
            if b > a:
                out.append((float(a), float(b)))
            day += DAY_S
    return out


class WeekendDrop(TrafficDrop):
    """Thins the route's arrivals (as ``TrafficDrop``) inside a weekend daytime.

    >>> WeekendDrop.kind, WeekendDrop.shape
    ('traffic_drop', 'weekend')
    """

    shape = "weekend"

    def plan(self, ctx: PlanContext, rng: np.random.Generator) -> Anomaly | None:
        spans = weekend_daytimes(ctx.t0, ctx.t1)
        if not spans:
            return None
        within = spans[int(rng.integers(len(spans)))]
        dur = float(rng.uniform(30, 60)) * 60.0
        placed = ctx.place_exact(rng, ctx.between(MIN_RATE, np.inf), dur, by_deploy=False,
                                 within=within)
        if placed is None:
            return None
        svc, j, start = placed
        r = ctx.services[svc].routes[j]
        keep = float(rng.uniform(0.10, 0.30))
        return Anomaly(self.kind, svc, j, r.template, r.method, start, start + dur,
                       params={"keep": round(keep, 3)}, extra={"shape": self.shape},
                       description=f"{r.key} weekend traffic down to {keep:.0%} of its "
                                   "weekend level")
