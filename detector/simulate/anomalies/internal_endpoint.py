"""new_endpoint, shape ``internal``: a deploy ships a debug or admin endpoint.

Nobody but a few engineers knows it exists: 2-5 clients (office and VPN
addresses, curl and scripts) call it 8-30 times over the following half
hour to hour and a quarter, every call answered 2xx. The label spans the
deploy to the last planned call; ``deployment`` is the version that shipped it.
"""

from __future__ import annotations

import numpy as np

from detector.simulate.anomalies.base import Anomaly, PlanContext, spread
from detector.simulate.anomalies.new_endpoint import NewEndpoint, launch
from detector.simulate.catalog import INTERNAL_ROUTES
from detector.simulate.deploys import ROLLOUT_S
from detector.simulate.traffic import Traffic

_UAS = ("curl/8.5.0", "python-requests/2.31.0", "HTTPie/3.2.2",
        "Mozilla/5.0 (X11; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0",
        "Go-http-client/1.1", "PostmanRuntime/7.37.0")


class InternalEndpoint(NewEndpoint):
    """A feature deploy plus a handful of engineers' calls to the new route.

    >>> InternalEndpoint.kind, InternalEndpoint.shape
    ('new_endpoint', 'internal')
    """

    shape = "internal"

    def plan(self, ctx: PlanContext, rng: np.random.Generator) -> Anomaly | None:
        taken = {s: {x.template for x in ctx.launched.get(s, [])} for s in ctx.services}
        options = {s: [r for r in INTERNAL_ROUTES.get(s, ()) if r.template not in taken[s]]
                   for s in ctx.services}
        pairs = [(s, 0) for s, routes in options.items() if routes]
        if not pairs:
            return None
        span = float(rng.uniform(30, 75)) * 60.0
        for _ in range(8):
            svc, _j = ctx.choose(rng, pairs)
            spec = options[svc][int(rng.integers(len(options[svc])))]
            start = ctx.slot(rng, svc, spec.template, span, by_deploy=True)
            if start is None:
                continue
            deploy, j = launch(ctx, svc, spec, start)
            calls, clients = int(rng.integers(8, 31)), int(rng.integers(2, 6))
            a = Anomaly(self.kind, svc, j, spec.template, spec.method, start, start + span,
                        deploy=deploy, params={"requests": calls, "clients": clients},
                        extra={"shape": self.shape})
            a.description = (f"deploy {{version}} ships {spec.key}: {calls} calls from "
                             f"{clients} engineers over {span / 60:.0f} min, all 2xx")
            return a
        return None

    def arrivals(self, a: Anomaly, t: Traffic) -> None:
        assert a.route is not None
        k, n = int(a.params["clients"]), int(a.params["requests"])
        # After the rollout, so every call reaches the new version and gets 2xx.
        first = a.start + ROLLOUT_S + float(t.rng.uniform(60, 600))
        ts = spread(t.rng, n, first, a.end)
        ts[-1] = max(ts[-1], a.end - 60.0)  # someone checks again near the end
        ids = [t.pool.add(f"10.8.{int(t.rng.integers(0, 16))}.{int(t.rng.integers(2, 250))}",
                          _UAS[int(t.rng.integers(len(_UAS)))]) for _ in range(k)]
        who = np.concatenate([np.arange(k), t.rng.integers(0, k, n - k)])
        t.add(np.sort(ts), a.route, np.asarray(ids, np.int32)[t.rng.permutation(who)], a.index,
              status=np.full(n, 200))
