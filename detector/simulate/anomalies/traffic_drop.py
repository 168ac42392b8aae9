"""traffic_drop: one route's rate falls to 0-15% (broken client release, DNS, CDN rule)."""

from __future__ import annotations

import numpy as np

from detector.simulate.anomalies.base import Anomaly, Injector, PlanContext
from detector.simulate.traffic import Traffic


class TrafficDrop(Injector):
    """Thins the route's arrivals in the window; sometimes a full flatline.

    >>> TrafficDrop.kind
    'traffic_drop'
    """

    kind = "traffic_drop"
    shape = "step"  # a sharp change on a busy route

    def plan(self, ctx: PlanContext, rng: np.random.Generator) -> Anomaly | None:
        placed = ctx.place(rng, ctx.candidates(1.0), by_deploy=False)
        if placed is None:
            return None
        svc, j, start, end = placed
        r = ctx.services[svc].routes[j]
        keep = 0.0 if rng.random() < 0.35 else float(rng.uniform(0.0, 0.15))
        what = "flatline" if keep == 0 else f"down to {keep:.0%}"
        return Anomaly(self.kind, svc, j, r.template, r.method, start, end,
                       params={"keep": round(keep, 3)}, description=f"{r.key} traffic {what}")

    def arrivals(self, a: Anomaly, t: Traffic) -> None:
        assert a.route is not None
        t.finalize()
        hit = t.on_route(a.route) & (t.ts >= a.start) & (t.ts < a.end)
        drop = hit & (t.rng.random(len(t.ts)) >= a.params["keep"])
        t.keep(~drop)
