"""new_endpoint: a deploy ships a route nobody called before, and it starts serving.

The route comes from ``catalog.NEW_ROUTES``; it has no traffic at all until
the deploy, then serves (mostly 2xx) until the end of the run. Requests that
reach a pod still on the old version during the rollout get 404.

The label covers the detection window, ``[deploy, deploy + 10 min]``, not the
rest of the run: the route is new only once, and a detector should say so
soon after the deploy. ``deployment`` is the version that shipped it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from detector.simulate.anomalies.base import Anomaly, Injector, PlanContext
from detector.simulate.catalog import NEW_ROUTES, SILENT_DEPLOY_SERVICE, RouteSpec, ServiceSpec
from detector.simulate.deploys import Deploy
from detector.simulate.traffic import Traffic

WINDOW_S = 10 * 60.0


class NewEndpoint(Injector):
    """Adds a feature deploy and the new route's traffic from then on.

    >>> NewEndpoint.kind, NewEndpoint.phase
    ('new_endpoint', 1)
    """

    kind = "new_endpoint"
    phase = 1

    def plan(self, ctx: PlanContext, rng: np.random.Generator) -> Anomaly | None:
        options = {s: [r for r in NEW_ROUTES.get(s, ())
                       if r.template not in {x.template for x in ctx.launched.get(s, [])}]
                   for s in ctx.services}
        pairs = [(s, 0) for s, routes in options.items() if routes]
        if not pairs:
            return None
        for _ in range(8):
            svc, _j = ctx.choose(rng, pairs)
            spec = options[svc][int(rng.integers(len(options[svc])))]
            start = ctx.slot(rng, svc, spec.template, WINDOW_S, by_deploy=True)
            if start is None:
                continue
            deploy, j = launch(ctx, svc, spec, start)
            rate = sum(ctx.route_rates[svc]) * float(rng.uniform(0.02, 0.08))
            a = Anomaly(self.kind, svc, j, spec.template, spec.method, start, start + WINDOW_S,
                        deploy=deploy, params={"rate": round(rate, 4)})
            a.description = (f"deploy {{version}} ships {spec.key}: a new route serving "
                             f"{rate:.2f} req/s from the deploy to the end of the run")
            return a
        return None

    def arrivals(self, a: Anomaly, t: Traffic) -> None:
        assert a.route is not None
        ts = t.arrivals_like(a.route, a.start, t.end_ts, 1.0)
        t.add(ts, a.route, t.clients_for(a.route, len(ts)), a.index)

    def effects(self, a: Anomaly, t: Traffic) -> None:
        assert a.route is not None and a.deploy is not None
        old = t.on_route(a.route) & (t.version < t.version_of(a.deploy))
        t.status[old] = 404
        t.shape_errors(old)


def launch(ctx: PlanContext, svc: str, spec: RouteSpec, start: float) -> tuple[Deploy, int]:
    """The feature deploy that ships ``spec`` at ``start``, and the route's index.

    The route joins the service's table after its own routes (see with_launched).
    """
    deploy = Deploy(svc, start, "feature", publish=svc != SILENT_DEPLOY_SERVICE)
    ctx.deploys.append(deploy)
    launched = ctx.launched.setdefault(svc, [])
    launched.append(spec)
    return deploy, len(ctx.services[svc].routes) + len(launched) - 1


def with_launched(svc: ServiceSpec, lam: np.ndarray, ctx: PlanContext,
                  anomalies: list[Anomaly]) -> tuple[ServiceSpec, np.ndarray]:
    """``svc`` and its rates with the routes deploys ship appended (rate 0 in baseline).

    The new columns follow the service's own daily curve at the planned mean rate.
    """
    extra = ctx.launched.get(svc.name, [])
    if not extra:
        return svc, lam
    level = lam.sum(axis=1)
    shape = level / max(float(level.mean()), 1e-9)
    # Routes without a planned rate (shape internal) get their calls from the injector.
    rate = {a.route: a.params.get("rate", 0.0) for a in anomalies
            if a.kind == NewEndpoint.kind and a.service == svc.name}
    cols = [shape * rate[len(svc.routes) + k] for k in range(len(extra))]
    return replace(svc, routes=svc.routes + tuple(extra)), np.column_stack([lam, *cols])
