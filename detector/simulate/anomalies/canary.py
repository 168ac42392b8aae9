"""Canary releases: a new version serves 5-20 % of a service's requests for 30-60 min.

The canary deploy is published at the start; during the canary period each request
of the service lands on the new version with the canary's share, on the version
before otherwise (both in the logs at once). A bad canary (errors, latency, larger
bodies on one route, confined to its own requests) is rolled back at the end, so
the change never reaches all traffic; a clean canary is promoted to 100 %.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from detector.kinds import Kind
from detector.simulate.anomalies.base import Anomaly, Injector, PlanContext
from detector.simulate.catalog import SILENT_DEPLOY_SERVICE
from detector.simulate.deploys import Deploy
from detector.simulate.traffic import Traffic

SHARE = (0.05, 0.20)  # of the service's requests on the canary
SPAN_MIN = (30.0, 60.0)  # minutes before promotion or rollback
MIN_RATE = 0.4  # req/s of the changed route: a canary of it sees a few requests a minute
MIN_REQUESTS = 150.0  # expected requests of the canary on the changed route
_CODES = np.array([500, 500, 500, 502, 503], dtype=np.int16)


class CanaryRelease(Injector):
    """A canary deploy of one service; subclasses say what its version breaks on one route.

    >>> CanaryErrors.kind, CanaryErrors.shape, CanaryClean.labelled
    ('error_surge', 'canary_errors', False)
    """

    kind: ClassVar[Kind] = "error_surge"
    shape: ClassVar[str] = "canary"
    promoted: ClassVar[bool] = False  # promoted to 100 % at the end, else rolled back
    effect: ClassVar[tuple[float, float]] = (1.0, 1.0)  # range of the change's size

    def plan(self, ctx: PlanContext, rng: np.random.Generator) -> Anomaly | None:
        best: tuple[float, tuple[str, int, float, float]] | None = None
        for _ in range(6):
            placed = ctx.place(rng, ctx.candidates(MIN_RATE), by_deploy=True, span=SPAN_MIN)
            if placed is None:
                break
            expected = ctx.expected(placed[0], placed[1], placed[2], placed[3])
            if best is None or expected > best[0]:
                best = expected, placed
            if expected * SHARE[1] >= MIN_REQUESTS:
                break
        if best is None:
            return None
        expected, (svc, j, start, end) = best
        # A canary is judged on its own requests: at a low rate (``--rate 0.25``) a short
        # 5 % canary of a quiet route gets too few to say anything, so the share is raised
        # (within SHARE) towards MIN_REQUESTS of the canary's on the changed route.
        share = min(max(float(rng.uniform(*SHARE)), MIN_REQUESTS / max(expected, 1.0)),
                    SHARE[1])
        r = ctx.services[svc].routes[j]
        size = float(rng.uniform(*self.effect))
        publish = svc != SILENT_DEPLOY_SERVICE
        a = Anomaly(self.kind, svc, j, r.template, r.method, start, end,
                    params={"canary_share": round(share, 3), "effect": round(size, 3)},
                    extra={"shape": self.shape})
        a.deploy = Deploy(svc, start, "harmless" if self.promoted else "bad", publish=publish)
        ctx.deploys.append(a.deploy)
        if not self.promoted:
            a.fix = Deploy(svc, end, "rollback", publish=publish)
            ctx.deploys.append(a.fix)
        a.description = self.describe(r.key, share, size)
        return a

    def describe(self, route: str, share: float, size: float) -> str:
        return f"canary {{version}} at {share:.0%} of traffic"

    def arrivals(self, a: Anomaly, t: Traffic) -> None:
        # Versions are assigned after planning: the label names the canary's here,
        # so that ``detector evaluate`` requires the incident to carry it.
        if a.deploy is not None and self.labelled:
            a.extra["version"] = a.deploy.version

    def effects(self, a: Anomaly, t: Traffic) -> None:
        mine = self.split_versions(a, t)
        if a.route is not None:
            self.change(a, t, mine & t.on_route(a.route))

    def split_versions(self, a: Anomaly, t: Traffic) -> np.ndarray:
        """Serve the canary's share of the period on its version; returns its rows."""
        assert a.deploy is not None
        new = t.version_of(a.deploy)
        during = (t.ts >= a.start) & (t.ts < a.end)
        mine = during & (t.rng.random(len(t.ts)) < a.params["canary_share"])
        t.version[during] = new - 1  # the version before the canary: index of the deploy before
        t.version[mine] = new
        if a.fix is not None:  # rolled back at once: no rollout back
            t.version[(t.ts >= a.end) & (t.version == new)] = t.version_of(a.fix)
        return np.asarray(mine)

    def change(self, a: Anomaly, t: Traffic, rows: np.ndarray) -> None:
        """What the canary's version does differently on its route's ``rows``."""


class CanaryErrors(CanaryRelease):
    """8-20 % of the canary's requests on one route fail with a 5xx.

    >>> CanaryErrors().describe("POST /r", 0.1, 0.08)
    'canary {version} at 10% of traffic: POST /r 5xx on 8% of its requests, rolled back'
    """

    kind = "error_surge"
    shape = "canary_errors"
    effect = (0.08, 0.20)

    def describe(self, route: str, share: float, size: float) -> str:
        return (f"canary {{version}} at {share:.0%} of traffic: {route} 5xx on {size:.0%} "
                "of its requests, rolled back")

    def change(self, a: Anomaly, t: Traffic, rows: np.ndarray) -> None:
        t.set_status(rows, a.params["effect"], _CODES)


class CanaryLatency(CanaryRelease):
    """The canary's requests on one route are 2-5x slower."""

    kind = "latency_regression"
    shape = "canary_latency"
    effect = (2.0, 5.0)

    def describe(self, route: str, share: float, size: float) -> str:
        return (f"canary {{version}} at {share:.0%} of traffic: {route} latency x{size:.1f}, "
                "rolled back")

    def change(self, a: Anomaly, t: Traffic, rows: np.ndarray) -> None:
        k = int(rows.sum())
        t.dur[rows] *= a.params["effect"] * np.exp(t.rng.normal(0, 0.15, k))


class CanarySize(CanaryRelease):
    """The canary's successful answers on one route are 3-8x larger (new fields serialised)."""

    kind = "data_exposure"
    shape = "canary_size"
    effect = (3.0, 8.0)

    def describe(self, route: str, share: float, size: float) -> str:
        return (f"canary {{version}} at {share:.0%} of traffic: {route} 2xx bodies x{size:.1f}, "
                "rolled back")

    def change(self, a: Anomaly, t: Traffic, rows: np.ndarray) -> None:
        ok = rows & (t.status >= 200) & (t.status < 300) & (t.nbytes > 0)
        t.nbytes[ok] = (t.nbytes[ok] * a.params["effect"]).astype(np.int64)


class CanaryClean(CanaryRelease):
    """A canary that changes nothing, then promoted: not labelled (manifest ``benign``)."""

    shape = "canary_clean"
    promoted = True
    labelled = False

    def describe(self, route: str, share: float, size: float) -> str:
        return f"clean canary {{version}} at {share:.0%} of traffic, then promoted"
