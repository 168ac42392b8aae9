"""error_surge: 5xx on one route, from a bad deploy (until rollback) or an outage."""

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

_DEPLOY_CODES = np.array([500, 500, 500, 502, 503], dtype=np.int16)
_OUTAGE_CODES = np.array([503, 503, 504, 502], dtype=np.int16)  # a dependency is down


class ErrorSurge(Injector):
    """8-40% of the route's responses become 5xx.

    >>> ErrorSurge.kind
    'error_surge'
    """

    kind = "error_surge"
    shape = "step"  # a sharp change on a busy route
    deploy_share = 0.65

    def plan(self, ctx: PlanContext, rng: np.random.Generator) -> Anomaly | None:
        by_deploy = bool(rng.random() < self.deploy_share)
        placed = ctx.place(rng, ctx.candidates(0.5), by_deploy=by_deploy)
        if placed is None:
            return None
        svc, j, start, end = placed
        r = ctx.services[svc].routes[j]
        share = float(rng.uniform(0.08, 0.40))
        a = Anomaly(self.kind, svc, j, r.template, r.method, start, end,
                    params={"share": round(share, 3)})
        if by_deploy:
            a.deploy, a.fix = ctx.deploy_pair(rng, svc, start, end,
                                              silent=svc == SILENT_DEPLOY_SERVICE)
            a.description = f"bad deploy {{version}}: {r.key} 5xx {share:.0%} until {a.fix.role}"
        else:
            a.description = f"dependency outage: {r.key} 5xx {share:.0%}"
        return a

    def effects(self, a: Anomaly, t: Traffic) -> None:
        codes = _DEPLOY_CODES if a.deploy is not None else _OUTAGE_CODES
        t.set_status(route_window(a, t), a.params["share"], codes)
