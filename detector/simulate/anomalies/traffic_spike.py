"""traffic_spike: one route's rate multiplied by 4-10 (viral link, retry storm)."""

from __future__ import annotations

import numpy as np

from detector.simulate.anomalies.base import Anomaly, Injector, PlanContext
from detector.simulate.traffic import Traffic


class TrafficSpike(Injector):
    """Extra arrivals at (factor - 1) x the route's expected rate.

    >>> TrafficSpike.kind
    'traffic_spike'
    """

    kind = "traffic_spike"
    shape = "step"  # a sharp change on a busy route

    def plan(self, ctx: PlanContext, rng: np.random.Generator) -> Anomaly | None:
        placed = ctx.place(rng, ctx.candidates(0.5), by_deploy=False)
        if placed is None:
            return None
        svc, j, start, end = placed
        r = ctx.services[svc].routes[j]
        factor = float(rng.uniform(4, 10))
        return Anomaly(self.kind, svc, j, r.template, r.method, start, end,
                       params={"factor": round(factor, 2)},
                       description=f"{r.key} request rate x{factor:.1f}")

    def arrivals(self, a: Anomaly, t: Traffic) -> None:
        assert a.route is not None
        ts = t.arrivals_like(a.route, a.start, a.end, a.params["factor"] - 1.0)
        t.add(ts, a.route, t.clients_for(a.route, len(ts)), a.index)
