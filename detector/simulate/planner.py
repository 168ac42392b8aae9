"""Plans the run: labelled anomalies first, then harmless deploys around them."""

from __future__ import annotations

import numpy as np

from detector.simulate.anomalies import (
    REGISTRY,
    RELEASES,
    SHAPES,
    Anomaly,
    PlanContext,
)
from detector.simulate.anomalies.base import DEPLOY_QUIET_S, WARMUP_S
from detector.simulate.catalog import SILENT_DEPLOY_SERVICE
from detector.simulate.denials_stop import DeniedCallers, place_deploy
from detector.simulate.deploys import ROLLOUT_S, Deploy

# Labelled anomalies per kind for an 8 h run; scaled with the hours after warm-up.
PER_KIND_8H = 3
# Time after the warm-up that a run needs before any anomaly is planned (see per_kind).
MIN_USEFUL_H = 0.5
# The shortest run that holds labelled anomalies: the warm-up the detectors need to learn
# a baseline (nothing is injected during it), then room for anomalies of 8-30 minutes.
MIN_LABELLED_HOURS = WARMUP_S / 3600.0 + MIN_USEFUL_H
HARMLESS_MARGIN_S = 20 * 60.0  # routine deploys keep this far from the run's ends
# Runs of at least a day get the real-world shapes (ramps, creeps, low-traffic
# routes, weekend drops, internal endpoints), the low-traffic service and the
# hourly batch job: a detector needs a day of history to know them from
# anomalies. Shorter runs keep the classic mix, byte for byte.
REAL_WORLD_HOURS = 24.0
SHAPE_SHARE = 1 / 3  # of each kind's anomalies, in real-world runs
RELEASE_SHARE = 1 / 4  # of per_kind(), for each release case, in real-world runs


def real_world(hours: float) -> bool:
    """Whether a run of ``hours`` gets the real-world shapes.

    >>> real_world(8.0), real_world(72.0)
    (False, True)
    """
    return hours >= REAL_WORLD_HOURS


def per_kind(hours: float) -> int:
    """Anomalies of each kind for a run of ``hours``.

    >>> per_kind(8.0), per_kind(2.0), per_kind(1.0), per_kind(24.0), per_kind(MIN_LABELLED_HOURS)
    (3, 1, 0, 10, 1)
    """
    useful = hours - WARMUP_S / 3600.0
    if useful < MIN_USEFUL_H:
        return 0
    return max(1, round(PER_KIND_8H * useful / (8.0 - WARMUP_S / 3600.0)))


def hours_problem(hours: float | None) -> str | None:
    """Why a run of ``hours`` cannot hold a labelled anomaly, or None when it can.

    >>> hours_problem(8.0) is None, hours_problem(None) is None
    (True, True)
    >>> print(hours_problem(1.0))  # doctest: +NORMALIZE_WHITESPACE
    --hours 1 is too short for labelled anomalies: the first 75 minutes are warm-up
    and anomalies need 30 more; the minimum is 1.75
    """
    if hours is None or hours >= MIN_LABELLED_HOURS:
        return None
    return (f"--hours {hours:g} is too short for labelled anomalies: the first "
            f"{WARMUP_S / 60:.0f} minutes are warm-up and anomalies need "
            f"{MIN_USEFUL_H * 60:.0f} more; the minimum is {MIN_LABELLED_HOURS:g}")


def plan_anomalies(ctx: PlanContext, rng: np.random.Generator, hours: float) -> list[Anomaly]:
    """Round-robin over kinds so a crowded timeline does not starve the last kind.

    Phase by phase: the traffic kinds (phase 0) are placed first, so the
    security kinds (phase 1) fit around them and never take their slots.
    Anomalies already in ``ctx`` (the shapes) count towards their kind's share.
    """
    # Only the shapes count: the release cases come on top of the classic mix.
    done = {k: sum(a.kind == k and a.extra.get("shape") in SHAPES for a in ctx.anomalies)
            for k in REGISTRY}
    for phase in sorted({inj.phase for inj in REGISTRY.values()}):
        kinds = [inj for inj in REGISTRY.values() if inj.phase == phase]
        for i in range(per_kind(hours)):
            for injector in kinds:
                if i + done[injector.kind] >= per_kind(hours):
                    continue
                a = injector.plan(ctx, rng)
                if a is not None:
                    ctx.anomalies.append(a)
    ctx.anomalies.sort(key=lambda a: (a.start, a.service))
    for i, a in enumerate(ctx.anomalies):
        a.index = i
    return ctx.anomalies


def plan_shapes(ctx: PlanContext, rng: np.random.Generator, hours: float) -> None:
    """The real-world shapes, a third of each kind, placed before the classic mix.

    They go first because they are long (a creeping latency lasts hours) and
    would find no room once the timeline is full; a shape that needs a
    weekend finds none in a run without one and is simply not planned.
    """
    rounds = max(1, round(per_kind(hours) * SHAPE_SHARE)) if per_kind(hours) else 0
    for _ in range(rounds):
        for injector in SHAPES.values():
            a = injector.plan(ctx, rng)
            if a is not None:
                ctx.anomalies.append(a)


def plan_releases(ctx: PlanContext, rng: np.random.Generator, hours: float) -> None:
    """The release cases (``RELEASES``), after the shapes and before the classic mix.

    Each case is tried ``per_kind * RELEASE_SHARE`` times (at least twice), round
    robin so a crowded timeline does not starve the last one.
    """
    if not per_kind(hours):
        return
    rounds = max(2, round(per_kind(hours) * RELEASE_SHARE))
    for _ in range(rounds):
        for injector in RELEASES.values():
            a = injector.plan(ctx, rng)
            if a is not None:
                ctx.anomalies.append(a)


def plan_denials_deploy(ctx: PlanContext, rng: np.random.Generator, d: DeniedCallers) -> None:
    """The routine deploy that ends a route's denied calls (a benign control), placed
    like a harmless deploy: after the anomalies, away from them."""
    place_deploy(d, ctx, rng, _clear)


def plan_harmless_deploys(ctx: PlanContext, rng: np.random.Generator) -> None:
    """Roughly one routine deploy per service every 3 hours, away from anomalies.

    A deploy right before an unrelated anomaly would make that anomaly look
    deploy-caused, which the labels would then contradict. A run too short to
    keep a deploy away from both of its ends has none.
    """
    hours = (ctx.t1 - ctx.t0) / 3600.0
    lo, hi = ctx.t0 + HARMLESS_MARGIN_S, ctx.t1 - HARMLESS_MARGIN_S
    if hi <= lo:
        return
    for name in ctx.services:
        silent = name == SILENT_DEPLOY_SERVICE
        for _ in range(max(1, int(rng.poisson(hours / 3.0)))):
            for _try in range(30):
                ts = float(rng.uniform(lo, hi))
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
