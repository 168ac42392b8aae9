"""latency_regression: one route 2.5-6x slower (N+1 query shipped, cold cache, GC)."""

from __future__ import annotations

import numpy as np

from detector.simulate.anomalies.base import (
    Anomaly,
    Injector,
    PlanContext,
    route_window,
)
from detector.simulate.catalog import SILENT_DEPLOY_SERVICE
from detector.simulate.traffic import Traffic


class LatencyRegression(Injector):
    """Multiplies the route's latency, from a deploy or from nowhere visible.

    >>> LatencyRegression.kind
    'latency_regression'
    """

    kind = "latency_regression"
    shape = "step"  # a sharp change on a busy route
    deploy_share = 0.5

    def plan(self, ctx: PlanContext, rng: np.random.Generator) -> Anomaly | None:
        by_deploy = bool(rng.random() < self.deploy_share)
        placed = ctx.place(rng, ctx.candidates(0.5), by_deploy=by_deploy)
        if placed is None:
            return None
        svc, j, start, end = placed
        r = ctx.services[svc].routes[j]
        factor = float(rng.uniform(2.5, 6.0))
        a = Anomaly(self.kind, svc, j, r.template, r.method, start, end,
                    params={"factor": round(factor, 2)})
        if by_deploy:
            a.deploy, a.fix = ctx.deploy_pair(rng, svc, start, end,
                                              silent=svc == SILENT_DEPLOY_SERVICE)
            a.description = f"deploy {{version}}: {r.key} latency x{factor:.1f}"
        else:
            a.description = f"{r.key} latency x{factor:.1f} (database contention)"
        return a

    def effects(self, a: Anomaly, t: Traffic) -> None:
        rows = route_window(a, t)
        # Not every request hits the slow path: spread the factor a little.
        k = int(rows.sum())
        t.dur[rows] *= a.params["factor"] * np.exp(t.rng.normal(0, 0.15, k))
