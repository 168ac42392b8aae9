"""What a simulated release does to its service, one class per effect (issue 13 scenarios).

A scenario's effect picks the route it changes and its strength from the
scenario's seed (``plan``), adds requests before attributes are drawn
(``arrivals``), rewrites the new version's requests after (``effects``) and
states the verdict an honest gate gives, with the checks that may name it.
Version index 0 is the previous version, 1 the released one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from detector.simulate.catalog import RouteSpec, ServiceSpec
from detector.simulate.deploys import Deploy
from detector.simulate.traffic import Traffic

NEW = 1  # ``Traffic.version`` of the released version's requests
_PLACEHOLDER = re.compile(r"\{[^}]*\}")
_5XX = np.array([500, 500, 500, 502, 503, 504], dtype=np.int16)


@dataclass
class Release:
    """One scenario's deploy and what its effect decided (route, strength, words).

    >>> from detector.simulate.catalog import PAYMENTS
    >>> rel = Release(PAYMENTS, Deploy("payments", 0.0, "bad"), 3600.0,
    ...               np.random.default_rng(0), route=0)
    >>> rel.key
    'GET /v2/payments/{id}'
    """

    svc: ServiceSpec
    deploy: Deploy
    end_ts: float
    rng: np.random.Generator
    route: int | None = None
    params: dict[str, float] = field(default_factory=dict)
    words: dict[str, str] = field(default_factory=dict)  # non-numeric choices (payloads...)

    @property
    def key(self) -> str | None:
        """The changed route as the record names it: every placeholder is ``{id}``."""
        if self.route is None:
            return None
        r = self.svc.routes[self.route]
        return f"{r.method} {route_template(r.template)}"


def route_template(template: str) -> str:
    """The catalogue's template with the detector's one placeholder name.

    >>> route_template("/v2/customers/{uuid}/payment-methods/{id}")
    '/v2/customers/{id}/payment-methods/{id}'
    """
    return _PLACEHOLDER.sub("{id}", template)


class ReleaseEffect:
    """Base: a release that changes nothing. Subclasses override the hooks.

    >>> ReleaseEffect.verdict, ReleaseEffect.mode, ReleaseEffect.checks
    ('pass', 'previous', ())
    """

    name: ClassVar[str] = "none"
    verdict: ClassVar[str] = "pass"
    checks: ClassVar[tuple[str, ...]] = ()  # record checks that may name a failing verdict
    mode: ClassVar[str] = "previous"  # the baseline an honest gate compares with
    canary_share: ClassVar[float] = 0.0  # > 0: the release serves this share beside the old one
    min_rate: ClassVar[float] = 0.3  # req/s the changed route gets around the deploy
    needs_route: ClassVar[bool] = False

    def fits(self, r: RouteSpec) -> bool:
        """Whether the effect can change route ``r``."""
        return True

    def extend(self, svc: ServiceSpec) -> ServiceSpec:
        """The service's route table with what the release ships (before rates are drawn)."""
        return svc

    def shape_rates(self, rel: Release, lam: np.ndarray, t0: float) -> None:
        """Change the expected rates in place (growth through the deploy)."""

    def plan(self, rel: Release, rates: np.ndarray) -> None:
        """Pick the route (by its mean req/s around the deploy) and the strength."""
        if self.needs_route:
            rel.route = pick_route(rel, rates, self.fits, self.min_rate)

    def arrivals(self, rel: Release, t: Traffic) -> None:
        """Add requests (before statuses, latencies and sizes are drawn)."""

    def effects(self, rel: Release, t: Traffic) -> None:
        """Rewrite the released version's requests."""

    def describe(self, rel: Release) -> str:
        return "nothing changes"


def pick_route(rel: Release, rates: np.ndarray, fits: Callable[[RouteSpec], bool],
               min_rate: float) -> int:
    """A route the effect fits, busy enough; the busiest fitting one when none is."""
    ok = [j for j, r in enumerate(rel.svc.routes) if r.anomaly_eligible and fits(r)]
    if not ok:
        raise ValueError(f"no route of {rel.svc.name} fits the effect")
    busy = [j for j in ok if rates[j] >= min_rate]
    if not busy:
        return max(ok, key=lambda j: float(rates[j]))
    return busy[int(rel.rng.integers(len(busy)))]


def new_rows(rel: Release, t: Traffic) -> np.ndarray:
    """The released version's requests on the changed route."""
    assert rel.route is not None
    return np.asarray(t.on_route(rel.route) & (t.version == NEW))


def uniform(rel: Release, name: str, lo: float, hi: float, digits: int = 3) -> float:
    """Draw a strength into ``rel.params`` and return it."""
    rel.params[name] = round(float(rel.rng.uniform(lo, hi)), digits)
    return rel.params[name]


class ErrorSurge(ReleaseEffect):
    """5-20 % of one route's requests on the new version fail with a 5xx.

    >>> ErrorSurge.verdict, ErrorSurge.checks
    ('fail', ('error_share',))
    """

    name = "error_surge"
    verdict = "fail"
    checks = ("error_share",)
    needs_route = True
    share: ClassVar[tuple[float, float]] = (0.05, 0.20)

    def plan(self, rel: Release, rates: np.ndarray) -> None:
        super().plan(rel, rates)
        uniform(rel, "share", *self.share)

    def effects(self, rel: Release, t: Traffic) -> None:
        t.set_status(new_rows(rel, t), rel.params["share"], _5XX)

    def describe(self, rel: Release) -> str:
        return f"{rel.key}: 5xx on {rel.params['share']:.1%} of its requests"


class LatencyShift(ReleaseEffect):
    """One route's requests on the new version are 1.5-3x slower (p95 x the factor).

    >>> LatencyShift.factor, LatencyShift.checks
    ((1.5, 3.0), ('latency_p95', 'latency_p50'))
    """

    name = "latency_shift"
    verdict = "fail"
    checks = ("latency_p95", "latency_p50")
    needs_route = True
    factor: ClassVar[tuple[float, float]] = (1.5, 3.0)

    def plan(self, rel: Release, rates: np.ndarray) -> None:
        super().plan(rel, rates)
        uniform(rel, "factor", *self.factor, digits=2)

    def effects(self, rel: Release, t: Traffic) -> None:
        rows = new_rows(rel, t)
        t.dur[rows] *= rel.params["factor"]

    def describe(self, rel: Release) -> str:
        return f"{rel.key}: latency x{rel.params['factor']:g} (p95 and p50)"


class SlowerEverywhere(ReleaseEffect):
    """Harmless: every request of the new version is 5 % slower (within a tolerance band).

    >>> SlowerEverywhere.verdict, SlowerEverywhere.checks
    ('pass', ())
    """

    name = "latency_5pct"

    def effects(self, rel: Release, t: Traffic) -> None:
        t.dur[t.version == NEW] *= 1.05

    def describe(self, rel: Release) -> str:
        return "every route 5 % slower: inside any sane tolerance, a gate should pass it"


class CanaryClean(ReleaseEffect):
    """Harmless canary: the new version serves ~10 % beside the old one and changes nothing.

    >>> CanaryClean.verdict, CanaryClean.mode, CanaryClean.canary_share
    ('pass', 'concurrent', 0.1)
    """

    name = "canary_clean"
    mode = "concurrent"
    canary_share = 0.10

    def describe(self, rel: Release) -> str:
        return f"canary at {self.canary_share:.0%} of requests for the whole window, no change"


class CanaryErrors(ErrorSurge):
    """A 10 % canary whose requests on one route fail with a 5xx 10-25 % of the time.

    >>> CanaryErrors.mode, CanaryErrors.share
    ('concurrent', (0.1, 0.25))
    """

    name = "canary_errors"
    mode = "concurrent"
    canary_share = 0.10
    min_rate = 1.0  # the canary's tenth of it still gives ~180 requests in 30 minutes
    share = (0.10, 0.25)

    def describe(self, rel: Release) -> str:
        return (f"canary at {self.canary_share:.0%} of requests for the whole window: "
                f"{rel.key} 5xx on {rel.params['share']:.1%} of the canary's requests")


class CanaryLatency(LatencyShift):
    """A 10 % canary whose requests on one route are 2-4x slower.

    >>> CanaryLatency.mode, CanaryLatency.factor
    ('concurrent', (2.0, 4.0))
    """

    name = "canary_latency"
    mode = "concurrent"
    canary_share = 0.10
    min_rate = 1.0
    factor = (2.0, 4.0)

    def describe(self, rel: Release) -> str:
        return (f"canary at {self.canary_share:.0%} of requests for the whole window: "
                f"{rel.key} latency x{rel.params['factor']:g} on the canary's requests")


class DailyGrowth(ReleaseEffect):
    """Harmless: traffic rises 20-40 % an hour through the deploy (the morning ramp).

    >>> round(hourly_growth(np.exp(np.arange(120) / 60 * np.log(1.3))[:, None], 60), 2)
    0.3
    """

    name = "daily_growth"

    def shape_rates(self, rel: Release, lam: np.ndarray, t0: float) -> None:
        target = uniform(rel, "growth_per_hour", 0.20, 0.40)
        at = int((rel.deploy.ts - t0) // 60)
        natural = hourly_growth(lam, at)
        hours = np.arange(lam.shape[0]) / 60.0
        extra = (1.0 + target) / (1.0 + natural)
        lam *= (extra ** (hours - at / 60.0))[:, None]
        rel.params["growth_per_hour"] = round(hourly_growth(lam, at), 3)

    def describe(self, rel: Release) -> str:
        return (f"traffic rising {rel.params['growth_per_hour']:.0%} an hour through the "
                "deploy, nothing else changes")


def hourly_growth(lam: np.ndarray, at: int) -> float:
    """Growth per hour of the expected rate over the half hours either side of minute ``at``."""
    before = float(lam[max(at - 30, 0):at].sum())
    after = float(lam[at:at + 30].sum())
    return (after / max(before, 1e-9)) ** 2 - 1.0


class LowTraffic(ReleaseEffect):
    """Nothing changes, on a service too quiet to tell: an honest gate says inconclusive.

    >>> LowTraffic.verdict
    'inconclusive'
    """

    name = "low_traffic"
    verdict = "inconclusive"

    def describe(self, rel: Release) -> str:
        return ("a service of a few requests a minute, nothing changes: too little traffic to "
                "detect the policy's effect sizes, so inconclusive (never a pass)")


class LowTrafficBroken(ErrorSurge):
    """A quiet service whose busiest route fails 40-60 % of the time after the deploy.

    Honest verdict: fail. Half of a route's requests failing, against a route
    that never failed, is certain after a dozen requests, which even 2-3
    requests a minute give within the window; calling it inconclusive would
    refuse a judgement the data supports (the issue's own rule: a baseline
    with no failures still lets new failures fail).

    >>> LowTrafficBroken.verdict, LowTrafficBroken.share
    ('fail', (0.4, 0.6))
    """

    name = "low_traffic_broken"
    min_rate = 1e9  # always the busiest fitting route
    share = (0.40, 0.60)

    def describe(self, rel: Release) -> str:
        return (f"a service of a few requests a minute; {rel.key} 5xx on "
                f"{rel.params['share']:.0%} of its requests: so large that the little traffic "
                "still proves it, so fail rather than inconclusive")
