"""Benign control of real-world runs: a deploy after which a route's denied callers stop.

An old app build keeps asking a busy GET route for objects its users may not
see, and gets 403 all day (12-25 % of the route's requests). A routine deploy
(the build is finally blocked at the gateway, or the feature that called it is
gone) ends those calls: the route's 403 share collapses, yet nothing was
loosened, since the refused requests vanished instead of succeeding. Not
labelled; listed in the manifest's ``benign``. An ``authorization_drift``
incident there is a false one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from detector.simulate.anomalies.auth_loosened import HISTORY_S, MIN_RATE, id_route
from detector.simulate.anomalies.base import PlanContext, new_clients
from detector.simulate.benign import Benign
from detector.simulate.catalog import SILENT_DEPLOY_SERVICE
from detector.simulate.deploys import Deploy
from detector.simulate.traffic import Traffic

DENIED = -7  # tag of the old build's requests
SPARED = 2  # busiest candidate routes never taken
_OLD_BUILD = ("ShopApp/4.2.0 (iPhone; iOS 15.8; Scale/3.00)",
              "ShopApp/4.2.0 (Android 11; SM-G973F; okhttp/3.14.9)")


@dataclass
class DeniedCallers:
    """The route an old build calls in vain, and the deploy that ends it.

    >>> DeniedCallers("orders", 1, "/v1/orders/{id}", 0.2, 30).deploy is None
    True
    """

    service: str
    route: int
    template: str
    share: float  # of the route's requests, on top of its own
    clients: int
    deploy: Deploy | None = None


def plan_route(ctx: PlanContext, rng: np.random.Generator) -> DeniedCallers | None:
    """Pick the route and reserve it, so no labelled anomaly lands there."""
    pairs = [(s, j) for s, j in ctx.between(MIN_RATE, np.inf)
             if s in ctx.classic and id_route(ctx.services[s].routes[j])]
    # The busiest routes are what the spikes and the release cases need: a run too
    # quiet to spare one of the others has no such control.
    pairs.sort(key=lambda p: -ctx.route_rates[p[0]][p[1]])
    pairs = sorted(pairs[SPARED:])
    if not pairs:
        return None
    svc, j = pairs[int(rng.integers(len(pairs)))]
    template = ctx.services[svc].routes[j].template
    ctx.reserved.add((svc, template))
    return DeniedCallers(svc, j, template, round(float(rng.uniform(0.12, 0.25)), 3),
                         int(rng.integers(20, 80)))


def place_deploy(d: DeniedCallers, ctx: PlanContext, rng: np.random.Generator,
                 clear: Callable[[PlanContext, str, float], bool]) -> None:
    """The routine deploy that ends the calls, away from labelled anomalies.

    ``clear(ctx, service, ts)`` is the planner's test for a harmless deploy.
    """
    lo, hi = ctx.t0 + HISTORY_S, ctx.t1 - 3 * 3600.0
    for _ in range(40):
        ts = float(rng.uniform(lo, hi)) if hi > lo else lo
        if ctx.expected(d.service, d.route, ts - 3600.0, ts + 3600.0) < MIN_RATE * 7200.0:
            continue
        if clear(ctx, d.service, ts):
            d.deploy = Deploy(d.service, ts, "harmless", publish=d.service != SILENT_DEPLOY_SERVICE)
            ctx.deploys.append(d.deploy)
            return


def arrivals(d: DeniedCallers, t: Traffic) -> Benign | None:
    """The old build's requests, from the run's start until the deploy."""
    if d.deploy is None:
        return None
    ids = np.asarray(new_clients(t.pool, [_OLD_BUILD[k % len(_OLD_BUILD)]
                                          for k in range(d.clients)], cloud=False), np.int32)
    ts = t.arrivals_like(d.route, t.start_ts, d.deploy.ts, d.share / (1.0 - d.share))
    t.add(np.sort(ts), d.route, ids[t.rng.integers(0, len(ids), len(ts))], DENIED)
    key = f"{t.svc.routes[d.route].method} {d.template}"
    return Benign("denied_callers_stop", d.service, t.start_ts, d.deploy.ts + 3 * 3600.0,
                  f"{key}: an old app build ({d.clients} clients, {d.share:.0%} of the route) "
                  "refused 403 all day stops calling at a routine deploy; the refused "
                  "requests vanish, none turns into a success")


def effects(d: DeniedCallers, t: Traffic) -> None:
    rows = t.tag == DENIED
    t.status[rows] = 403
    t.shape_errors(rows)
