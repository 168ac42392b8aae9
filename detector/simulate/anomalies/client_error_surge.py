"""client_error_surge: a deploy rejects requests old clients still send (400/422)."""

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


class ClientErrorSurge(Injector):
    """15-50% of the route's responses become 400 or 422 on the new version.

    >>> ClientErrorSurge.kind
    'client_error_surge'
    """

    kind = "client_error_surge"
    shape = "step"  # a sharp change on a busy route

    def plan(self, ctx: PlanContext, rng: np.random.Generator) -> Anomaly | None:
        # Only routes that take parameters can start rejecting them.
        pairs = ctx.candidates(0.5, lambda r: r.body is not None or r.query is not None)
        placed = ctx.place(rng, pairs, by_deploy=True)
        if placed is None:
            return None
        svc, j, start, end = placed
        r = ctx.services[svc].routes[j]
        share = float(rng.uniform(0.15, 0.50))
        code = 422 if r.body is not None and rng.random() < 0.5 else 400
        a = Anomaly(self.kind, svc, j, r.template, r.method, start, end,
                    params={"share": round(share, 3), "code": code})
        a.deploy, a.fix = ctx.deploy_pair(rng, svc, start, end,
                                          silent=svc == SILENT_DEPLOY_SERVICE)
        a.description = (f"deploy {{version}} rejects old clients: {r.key} {code} "
                         f"{share:.0%} until {a.fix.role}")
        return a

    def effects(self, a: Anomaly, t: Traffic) -> None:
        code = int(a.params["code"])
        codes = np.array([code, code, code, 400 if code == 422 else 422], dtype=np.int16)
        t.set_status(route_window(a, t), a.params["share"], codes)
