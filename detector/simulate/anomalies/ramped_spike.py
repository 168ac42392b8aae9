"""traffic_spike, shape ``ramped``: a campaign or a retry storm that builds up.

The rate climbs from 1x to 3-6x over 25-35 minutes, holds 10-20 minutes,
then falls back over 8-15 minutes. The label spans the whole ramp, so a
detector may answer late in the climb and still match; its delay shows it.
"""

from __future__ import annotations

import numpy as np

from detector.simulate.anomalies.base import Anomaly, Injector, PlanContext
from detector.simulate.traffic import Traffic

MIN_RATE = 0.15  # req/s: a 3x climb on fewer requests is lost in minute-to-minute noise


def ramp_factor(t: np.ndarray, a: Anomaly) -> np.ndarray:
    """The rate multiplier of a ramped anomaly at times ``t`` (1 outside it).

    >>> a = Anomaly("traffic_spike", "s", 0, "/x", "GET", 0.0, 3000.0,
    ...             params={"factor": 5.0, "ramp_s": 1800.0, "hold_s": 600.0})
    >>> [round(float(x), 2) for x in ramp_factor(np.array([0.0, 900.0, 2000.0, 2700.0]), a)]
    [1.0, 3.0, 5.0, 3.0]
    """
    p = a.params
    rise = (t - a.start) / p["ramp_s"]
    fall = (a.end - t) / (a.end - a.start - p["ramp_s"] - p["hold_s"])
    share = np.clip(np.minimum(rise, fall), 0.0, 1.0)
    return np.asarray(1.0 + (p["factor"] - 1.0) * share)


class RampedSpike(Injector):
    """Extra arrivals following ``ramp_factor`` minute by minute.

    >>> RampedSpike.kind, RampedSpike.shape
    ('traffic_spike', 'ramped')
    """

    kind = "traffic_spike"
    shape = "ramped"

    def plan(self, ctx: PlanContext, rng: np.random.Generator) -> Anomaly | None:
        ramp, hold, fall = (float(rng.uniform(lo, hi)) * 60.0
                            for lo, hi in ((25, 35), (10, 20), (8, 15)))
        placed = ctx.place_exact(rng, ctx.between(MIN_RATE, np.inf), ramp + hold + fall,
                                 by_deploy=False)
        if placed is None:
            return None
        svc, j, start = placed
        r = ctx.services[svc].routes[j]
        factor = float(rng.uniform(3.0, 6.0))
        return Anomaly(self.kind, svc, j, r.template, r.method, start, start + ramp + hold + fall,
                       params={"factor": round(factor, 2), "ramp_s": round(ramp),
                               "hold_s": round(hold)},
                       extra={"shape": self.shape},
                       description=f"{r.key} request rate ramps to x{factor:.1f} over "
                                   f"{ramp / 60:.0f} min, holds {hold / 60:.0f} min")

    def arrivals(self, a: Anomaly, t: Traffic) -> None:
        assert a.route is not None
        edges = np.arange(a.start, a.end, 60.0)
        for lo in edges:
            hi = min(lo + 60.0, a.end)
            extra = float(ramp_factor(np.array([(lo + hi) / 2.0]), a)[0]) - 1.0
            ts = t.arrivals_like(a.route, float(lo), float(hi), extra)
            t.add(ts, a.route, t.clients_for(a.route, len(ts)), a.index)
