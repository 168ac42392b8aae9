"""traffic_drop, shape ``app_drop``: after a deploy, one app version's requests stop.

A route used mostly by the old app build (ShopApp 3.x on Android: 72-85 % of
its requests all day, see :mod:`old_clients_broken`) loses that population
after a deploy (a forced-upgrade check, a changed contract the app gives up
on): 0-10 % of its requests still arrive until the rollback or hotfix, the
other clients carry on. The label names the population (``params.population``).
A route whose old-app population another case made (too small a share) is not chosen.
"""

from __future__ import annotations

import numpy as np

from detector.simulate.anomalies.base import Anomaly, Injector, PlanContext
from detector.simulate.anomalies.old_clients_broken import (
    OLD_APP_FAMILY,
    old_app_population,
    old_rows,
    without_population,
)
from detector.simulate.catalog import SILENT_DEPLOY_SERVICE
from detector.simulate.deploys import ROLLOUT_S
from detector.simulate.traffic import Traffic


class AppDrop(Injector):
    """A deploy after which one app population's requests on a route stop.

    >>> AppDrop.kind, AppDrop.shape
    ('traffic_drop', 'app_drop')
    """

    kind = "traffic_drop"
    shape = "app_drop"

    def plan(self, ctx: PlanContext, rng: np.random.Generator) -> Anomaly | None:
        pairs = without_population(ctx, ctx.candidates(1.0, lambda r: r.clients == "users"))
        if not pairs:
            return None
        placed = ctx.place(rng, pairs, by_deploy=True, span=(15.0, 40.0))
        if placed is None:
            return None
        svc, j, start, end = placed
        r = ctx.services[svc].routes[j]
        share = float(rng.uniform(0.72, 0.85))
        keep = float(rng.uniform(0.0, 0.1))
        a = Anomaly(self.kind, svc, j, r.template, r.method, start, end,
                    params={"share": round(share, 3), "keep": round(keep, 3)},
                    extra={"shape": self.shape, "population": OLD_APP_FAMILY})
        a.deploy, a.fix = ctx.deploy_pair(rng, svc, start, end,
                                          silent=svc == SILENT_DEPLOY_SERVICE)
        a.description = (f"deploy {{version}} loses the old app ({OLD_APP_FAMILY}, "
                         f"{share:.0%} of {r.key}): its requests stop until {a.fix.role}")
        return a

    def arrivals(self, a: Anomaly, t: Traffic) -> None:
        assert a.route is not None
        old_app_population(t, a.route, a.params["share"])
        # Gone once the new version serves everyone, back once the fix has rolled out.
        gone = old_rows(t, a.route) & (t.ts >= a.start + ROLLOUT_S / 2) & (t.ts < a.end)
        t.keep(~(gone & (t.rng.random(len(t.ts)) >= a.params["keep"])))
