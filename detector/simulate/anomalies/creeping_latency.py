"""latency_regression, shape ``creeping``: a deploy's slowness that grows for hours.

A leak, a cache that stops being warmed, a table that grows without its
index: from the deploy the route's latency multiplier rises linearly from
1.0 to 2-3x over 2-4 hours, stays there 10-40 minutes, and ends with the
rollback or hotfix. ``deployment`` is the version where it began.
"""

from __future__ import annotations

import numpy as np

from detector.simulate.anomalies.base import Anomaly, PlanContext, route_window
from detector.simulate.anomalies.latency_regression import LatencyRegression
from detector.simulate.catalog import SILENT_DEPLOY_SERVICE
from detector.simulate.traffic import Traffic

MIN_RATE = 0.1  # req/s: a few latency samples a minute, enough for a median


def creep(t: np.ndarray, a: Anomaly) -> np.ndarray:
    """Latency multiplier at times ``t``: 1 at the deploy, ``factor`` after the ramp.

    >>> a = Anomaly("latency_regression", "s", 0, "/x", "GET", 0.0, 9000.0,
    ...             params={"factor": 3.0, "ramp_s": 7200.0})
    >>> [round(float(x), 2) for x in creep(np.array([0.0, 3600.0, 8000.0]), a)]
    [1.0, 2.0, 3.0]
    """
    share = np.clip((t - a.start) / a.params["ramp_s"], 0.0, 1.0)
    return np.asarray(1.0 + (a.params["factor"] - 1.0) * share)


class CreepingLatency(LatencyRegression):
    """Multiplies latency of the bad version's requests by ``creep`` at their time.

    >>> CreepingLatency.kind, CreepingLatency.shape
    ('latency_regression', 'creeping')
    """

    shape = "creeping"

    def plan(self, ctx: PlanContext, rng: np.random.Generator) -> Anomaly | None:
        ramp = float(rng.uniform(2.0, 4.0)) * 3600.0
        dur = ramp + float(rng.uniform(10, 40)) * 60.0
        placed = ctx.place_exact(rng, ctx.between(MIN_RATE, np.inf), dur, by_deploy=True)
        if placed is None:
            return None
        svc, j, start = placed
        r = ctx.services[svc].routes[j]
        factor = float(rng.uniform(2.0, 3.0))
        a = Anomaly(self.kind, svc, j, r.template, r.method, start, start + dur,
                    params={"factor": round(factor, 2), "ramp_s": round(ramp)},
                    extra={"shape": self.shape})
        a.deploy, a.fix = ctx.deploy_pair(rng, svc, start, start + dur,
                                          silent=svc == SILENT_DEPLOY_SERVICE)
        a.description = (f"deploy {{version}}: {r.key} latency creeps to x{factor:.1f} over "
                         f"{ramp / 3600:.1f} h until {a.fix.role}")
        return a

    def effects(self, a: Anomaly, t: Traffic) -> None:
        rows = route_window(a, t)
        k = int(rows.sum())
        t.dur[rows] *= creep(t.ts[rows], a) * np.exp(t.rng.normal(0, 0.1, k))
