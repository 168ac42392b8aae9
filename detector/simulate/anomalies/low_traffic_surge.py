"""error_surge, shape ``low_traffic``: a deploy breaks a route that few clients call.

The route sees a request every minute or few (route baseline 5xx well under
1 %); after the bad deploy about a quarter of its requests fail until the
rollback or hotfix. The anomaly lasts as long as it takes the route to get
a few dozen requests (25-60 expected), so the evidence is small in count
and large in effect: exactly what a per-minute ratio test cannot see.
"""

from __future__ import annotations

import numpy as np

from detector.simulate.anomalies.base import Anomaly, PlanContext
from detector.simulate.anomalies.error_surge import ErrorSurge
from detector.simulate.catalog import SILENT_DEPLOY_SERVICE

RATE_RANGE = (0.004, 0.03)  # req/s over the run: 15 to 110 requests an hour
LONGEST_S = 150 * 60.0
SHORTEST_S = 20 * 60.0


class LowTrafficSurge(ErrorSurge):
    """A bad deploy's 5xx share of 20-30 % on a low-traffic route, sized in requests.

    >>> LowTrafficSurge.kind, LowTrafficSurge.shape
    ('error_surge', 'low_traffic')
    """

    shape = "low_traffic"

    def plan(self, ctx: PlanContext, rng: np.random.Generator) -> Anomaly | None:
        want = float(rng.uniform(25, 60))
        share = float(rng.uniform(0.20, 0.30))
        for _ in range(6):
            placed = ctx.place_exact(rng, ctx.between(*RATE_RANGE), LONGEST_S, by_deploy=True)
            if placed is None:
                return None
            svc, j, start = placed
            # Shortest span (whole minutes) that expects ``want`` requests there.
            dur = SHORTEST_S
            while dur < LONGEST_S and ctx.expected(svc, j, start, start + dur) < want:
                dur += 60.0
            got = ctx.expected(svc, j, start, start + dur)
            if not 0.6 * want <= got <= 1.6 * want:
                continue  # a quiet night, or a busy hour: not "a few dozen requests"
            r = ctx.services[svc].routes[j]
            a = Anomaly(self.kind, svc, j, r.template, r.method, start, start + dur,
                        params={"share": round(share, 3), "expected_requests": round(got, 1)},
                        extra={"shape": self.shape})
            a.deploy, a.fix = ctx.deploy_pair(rng, svc, start, start + dur,
                                              silent=svc == SILENT_DEPLOY_SERVICE)
            a.description = (f"bad deploy {{version}}: {r.key} (~{got:.0f} requests) 5xx "
                             f"{share:.0%} until {a.fix.role}")
            return a
        return None
