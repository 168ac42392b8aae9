"""A benign release of real-world runs: a deploy that makes one route's answers 5-10 % larger.

A field added to a response is an ordinary change: a data-exposure detector
that raised it would page for every release. Unlabelled and listed in the
manifest's ``benign``; placed on a busy route, where even a small change is
statistically certain, so only the effect floor keeps it quiet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.simulate.anomalies.base import DEPLOY_QUIET_S, PlanContext
from detector.simulate.anomalies.size_jump import answers_bodies
from detector.simulate.benign import Benign
from detector.simulate.catalog import SILENT_DEPLOY_SERVICE
from detector.simulate.deploys import ROLLOUT_S, Deploy
from detector.simulate.traffic import Traffic

MIN_RATE = 0.15  # req/s: a thousand answers and more in the hours after the deploy
WATCHED_S = 3 * 3600.0  # what a detector compares after a deploy: no labelled anomaly there
SPACING_S = 15 * 60.0  # from the service's other deploys
TOP = 6  # routes tried at least, the busiest first, when few reach MIN_RATE


@dataclass(frozen=True)
class SizeControl:
    """The control: its deploy and the growth of the route's 2xx answers from it on.

    >>> SizeControl(Deploy("users", 0.0, "harmless"), 2, "/v1/users/{id}", 1.07).growth
    1.07
    """

    deploy: Deploy
    route: int
    template: str
    growth: float


def _clear(ctx: PlanContext, service: str, template: str, ts: float) -> bool:
    if any(d.service == service and abs(d.ts - ts) < SPACING_S for d in ctx.deploys):
        return False
    for a in ctx.anomalies:
        if a.service != service:
            continue
        if ts <= a.start <= ts + DEPLOY_QUIET_S:
            return False  # a labelled anomaly right after it would look deploy-caused
        if a.deploy is not None and a.deploy.ts - SPACING_S <= ts <= a.end + ROLLOUT_S + 600:
            return False
        if template in a.templates and a.start < ts + WATCHED_S and a.end > ts:
            return False
        if (template in a.templates and a.kind == "data_exposure"
                and a.end > ts - WATCHED_S and a.start < ts):
            return False  # a size change before it: in the reference it is judged against
    return True


def plan_size_control(ctx: PlanContext, rng: np.random.Generator) -> SizeControl | None:
    """Place the control deploy (after the labelled anomalies, clear of them)."""
    # A published deploy (not the service whose deploys are only seen in its logs),
    # on one of the busiest routes answering bodies.
    pairs = [(s, j) for s in ctx.classic if s != SILENT_DEPLOY_SERVICE
             for j, r in enumerate(ctx.services[s].routes)
             if r.anomaly_eligible and answers_bodies(r) and (s, r.template) not in ctx.reserved]
    pairs.sort(key=lambda p: -ctx.route_rates[p[0]][p[1]])
    busy = [p for p in pairs if ctx.route_rates[p[0]][p[1]] >= MIN_RATE]
    pairs = busy if len(busy) >= TOP else pairs[:TOP]  # the busiest are often taken
    earliest, latest = ctx.t_min, ctx.t1 - WATCHED_S
    if not pairs or latest <= earliest:
        return None  # a run too short to watch a deploy for three hours
    for _ in range(200):
        svc, j = pairs[int(rng.integers(len(pairs)))]
        template = ctx.services[svc].routes[j].template
        ts = float(rng.uniform(earliest, latest))
        if _clear(ctx, svc, template, ts):
            d = Deploy(svc, ts, "harmless")
            ctx.deploys.append(d)
            return SizeControl(d, j, template, round(float(rng.uniform(1.05, 1.10)), 3))
    return None


def size_control_effects(c: SizeControl, t: Traffic) -> Benign:
    """From the control's version on, the route's 2xx answers are ``growth`` x larger."""
    since = t.version_of(c.deploy)
    rows = (t.route == c.route) & (t.version >= since) & (t.status >= 200) & (t.status < 300)
    t.nbytes[rows] = (t.nbytes[rows] * c.growth).astype(np.int64)
    key = f"{t.svc.routes[c.route].method} {c.template}"
    return Benign("size_growth_release", c.deploy.service, c.deploy.ts, t.end_ts,
                  f"{key}: deploy {c.deploy.version} makes 2xx answers "
                  f"{c.growth - 1:.0%} larger (a new field)")
