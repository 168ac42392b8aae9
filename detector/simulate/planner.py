"""Plans the run: labelled anomalies first, then harmless deploys around them."""

from __future__ import annotations

import numpy as np

from detector.simulate.anomalies import REGISTRY, Anomaly, PlanContext
from detector.simulate.anomalies.base import DEPLOY_QUIET_S, WARMUP_S
from detector.simulate.catalog import SILENT_DEPLOY_SERVICE
from detector.simulate.deploys import ROLLOUT_S, Deploy

# Labelled anomalies per kind for an 8 h run; scaled with the hours after warm-up.
PER_KIND_8H = 3


def per_kind(hours: float) -> int:
    """Anomalies of each kind for a run of ``hours``.

    >>> per_kind(8.0), per_kind(2.0), per_kind(1.0), per_kind(24.0)
    (3, 1, 0, 10)
    """
    useful = hours - WARMUP_S / 3600.0
    if useful < 0.5:
        return 0
    return max(1, round(PER_KIND_8H * useful / (8.0 - WARMUP_S / 3600.0)))


def plan_anomalies(ctx: PlanContext, rng: np.random.Generator, hours: float) -> list[Anomaly]:
    """Round-robin over kinds so a crowded timeline does not starve the last kind.

    Phase by phase: the traffic kinds (phase 0) are placed first, so the
    security kinds (phase 1) fit around them and never take their slots.
    """
    for phase in sorted({inj.phase for inj in REGISTRY.values()}):
        kinds = [inj for inj in REGISTRY.values() if inj.phase == phase]
        for _ in range(per_kind(hours)):
            for injector in kinds:
                a = injector.plan(ctx, rng)
                if a is not None:
                    ctx.anomalies.append(a)
    ctx.anomalies.sort(key=lambda a: (a.start, a.service))
    for i, a in enumerate(ctx.anomalies):
        a.index = i
    return ctx.anomalies


def plan_harmless_deploys(ctx: PlanContext, rng: np.random.Generator) -> None:
    """Roughly one routine deploy per service every 3 hours, away from anomalies.

    A deploy right before an unrelated anomaly would make that anomaly look
    deploy-caused, which the labels would then contradict.
    """
    hours = (ctx.t1 - ctx.t0) / 3600.0
    for name in ctx.services:
        silent = name == SILENT_DEPLOY_SERVICE
        for _ in range(max(1, int(rng.poisson(hours / 3.0)))):
            for _try in range(30):
                ts = float(rng.uniform(ctx.t0 + 20 * 60, ctx.t1 - 20 * 60))
                if _clear(ctx, name, ts):
                    ctx.deploys.append(Deploy(name, ts, "harmless",
                                              publish=not silent and rng.random() < 0.75))
                    break


def _clear(ctx: PlanContext, service: str, ts: float) -> bool:
    for d in ctx.deploys:
        if d.service == service and abs(d.ts - ts) < 15 * 60:
            return False
    for a in ctx.anomalies:
        if a.service != service:
            continue
        if ts <= a.start <= ts + DEPLOY_QUIET_S:
            return False
        if a.deploy is not None and a.deploy.ts - 10 * 60 <= ts <= a.end + ROLLOUT_S + 600:
            return False
    return True
