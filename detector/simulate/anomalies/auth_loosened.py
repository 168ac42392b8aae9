"""authorization_drift, shape ``auth_loosened``: a release drops an object-level permission check.

From the run's first minute, a steady 12-25 % of a busy GET route's requests
come from its usual users asking for objects that are not theirs (other
accounts' statements, carts, orders), and the versions before the release
answer them 403. The release answers them like any other request (mostly
200), and the check stays lost until the run ends. The label spans the
release and the two hours after it; ``deployment`` is the release.

The refused requests are drawn among the route's own (not added to them), so
whatever else happens to the route's traffic (a drop, a flatline) happens to
them too.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from detector.simulate.anomalies.base import Anomaly, Injector, PlanContext
from detector.simulate.catalog import SILENT_DEPLOY_SERVICE, RouteSpec
from detector.simulate.deploys import Deploy
from detector.simulate.traffic import BASELINE, Traffic

MIN_RATE = 0.15  # req/s around the release: the conversion shows within an hour or two
LABEL_S = 2 * 3600.0  # the release and the watch after it
HISTORY_S = 4 * 3600.0  # of denials before the release, at least: the reference knows them


def id_route(r: RouteSpec) -> bool:
    """A GET of one user's object: where asking for someone else's is refused."""
    return r.method == "GET" and "{" in r.template and not r.auth


class AuthLoosened(Injector):
    """Refused requests on a route from the run's start, answered after a release.

    >>> AuthLoosened.kind, AuthLoosened.shape, AuthLoosened.denial
    ('authorization_drift', 'auth_loosened', 403)
    """

    kind = "authorization_drift"
    shape = "auth_loosened"
    denial: ClassVar[int] = 403
    what: ClassVar[str] = "requests for other accounts' objects"

    def fits(self, r: RouteSpec) -> bool:
        return id_route(r)

    def plan(self, ctx: PlanContext, rng: np.random.Generator) -> Anomaly | None:
        # One lost check per route: a second would hide in the first one's denials.
        taken = {(a.service, a.route) for a in ctx.anomalies if a.kind == self.kind}
        pairs = [(s, j) for s, j in ctx.between(MIN_RATE, np.inf)
                 if s in ctx.classic and self.fits(ctx.services[s].routes[j])
                 and (s, j) not in taken]
        within = (ctx.t0 + HISTORY_S, ctx.t1)
        for _ in range(4):
            placed = ctx.place_exact(rng, pairs, LABEL_S, by_deploy=True, within=within)
            if placed is None:
                return None
            svc, j, start = placed
            # Busy enough around the release, not only on the day's average.
            if ctx.expected(svc, j, start - 3600.0, start + LABEL_S) >= (
                    MIN_RATE * (LABEL_S + 3600.0)):
                break
        else:
            return None
        r = ctx.services[svc].routes[j]
        share = round(float(rng.uniform(0.12, 0.25)), 3)
        deploy = Deploy(svc, start, "bad", publish=svc != SILENT_DEPLOY_SERVICE)
        ctx.deploys.append(deploy)
        a = Anomaly(self.kind, svc, j, r.template, r.method, start, start + LABEL_S,
                    deploy=deploy, params={"share": share, "status": self.denial},
                    extra={"shape": self.shape})
        a.description = (f"deploy {{version}}: {r.key} stops refusing {self.what} "
                         f"({share:.0%} of its requests, {self.denial} before)")
        return a

    def effects(self, a: Anomaly, t: Traffic) -> None:
        assert a.route is not None and a.deploy is not None
        # Successful answers of the versions before the release: those are what the
        # lost check used to refuse (a 404 or a 5xx stays what it was).
        old = (t.on_route(a.route) & (t.tag == BASELINE) & (t.status < 300)
               & (t.version < t.version_of(a.deploy)))
        refused = old & (t.rng.random(len(old)) < a.params["share"])
        t.status[refused] = self.denial
        t.shape_errors(refused)
