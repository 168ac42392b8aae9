"""Injector protocol and the planning context every injector shares.

An injector owns one anomaly kind. ``plan`` picks where and when (through
``PlanContext``, which enforces warm-up, non-overlap and deploy spacing);
``arrivals`` adds or removes requests; ``effects`` rewrites attributes of
requests already drawn. Register new kinds in ``anomalies.REGISTRY``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from detector.kinds import Kind
from detector.simulate.catalog import RouteSpec, ServiceSpec
from detector.simulate.clients import ClientPool
from detector.simulate.deploys import ROLLOUT_S, Deploy
from detector.simulate.traffic import Traffic

WARMUP_S = 75 * 60.0
ROUTE_GAP_S = 10 * 60.0  # quiet time between anomalies on the same route
DEPLOY_QUIET_S = 45 * 60.0  # after a deploy, no unrelated anomaly starts on that service


@dataclass
class Anomaly:
    """A planned, labelled anomaly (becomes one line of labels.jsonl).

    >>> a = Anomaly("traffic_spike", "search", 0, "/v1/search", "GET", 5000.0, 5600.0)
    >>> a.end - a.start
    600.0
    """

    kind: Kind
    service: str
    route: int | None  # index into the service's routes
    template: str | None
    method: str | None
    start: float
    end: float
    client: str | None = None
    deploy: Deploy | None = None  # the deploy that caused it
    fix: Deploy | None = None  # the rollback or hotfix that ended it
    params: dict[str, float] = field(default_factory=dict)
    description: str = ""
    index: int = -1  # tag of its injected requests; set by the planner
    # Non-numeric label params (attack types, variant, tool), merged into ``params``.
    extra: dict[str, str | list[str]] = field(default_factory=dict)
    # Further routes its requests touch: kept free of other anomalies like ``template``.
    also: tuple[str, ...] = ()
    # Owns its service's timeline while it runs (a scan's 404 flood): no other
    # anomaly of that service may overlap it, whatever its route.
    exclusive: bool = False

    @property
    def templates(self) -> tuple[str | None, ...]:
        return (self.template, *self.also)


class PlanContext:
    """Where anomalies may go: route rates, time bounds, what is already taken.

    >>> from detector.simulate.catalog import SERVICES
    >>> rates = {s.name: [1.0] * len(s.routes) for s in SERVICES}
    >>> ctx = PlanContext(SERVICES, rates, 0.0, 8 * 3600.0)
    >>> ctx.t_min == WARMUP_S
    True
    """

    def __init__(self, services: tuple[ServiceSpec, ...], route_rates: dict[str, list[float]],
                 t0: float, t1: float) -> None:
        self.services = {s.name: s for s in services}
        self.route_rates = route_rates  # mean req/s over the run
        self.t0, self.t1 = t0, t1
        self.t_min = t0 + WARMUP_S
        self.anomalies: list[Anomaly] = []
        self.deploys: list[Deploy] = []
        # Routes shipped during the run (new_endpoint), appended to the service's table.
        self.launched: dict[str, list[RouteSpec]] = {}
        # (service, template) pairs a benign routine owns (the hourly batch job):
        # no labelled anomaly goes there, so the routine stays unlabelled.
        self.reserved: set[tuple[str, str]] = set()
        # Expected req/s per (minute, route) of each service, when the runner has them:
        # shapes sized in requests (a few dozen over the anomaly) read them.
        self.minute_rates: dict[str, np.ndarray] = {}

    def candidates(self, min_rate: float,
                   ok: Callable[[RouteSpec], bool] = lambda r: True) -> list[tuple[str, int]]:
        """(service, route) pairs with enough traffic; falls back to the busiest few."""
        pairs = [(s, j) for s in self.classic for j, r in enumerate(self.services[s].routes)
                 if r.anomaly_eligible and ok(r) and (s, r.template) not in self.reserved]
        good = [p for p in pairs if self.route_rates[p[0]][p[1]] >= min_rate]
        if good:
            return good
        pairs.sort(key=lambda p: -self.route_rates[p[0]][p[1]])
        return pairs[:3]

    @property
    def classic(self) -> list[str]:
        """Services the classic and security kinds may use (not the low-traffic ones)."""
        return [s for s, spec in self.services.items() if not spec.low_traffic]

    def between(self, lo: float, hi: float) -> list[tuple[str, int]]:
        """Eligible (service, route) pairs whose mean rate is in [lo, hi] req/s, no fallback."""
        return [(s, j) for s, spec in self.services.items() for j, r in enumerate(spec.routes)
                if r.anomaly_eligible and (s, r.template) not in self.reserved
                and lo <= self.route_rates[s][j] <= hi]

    def choose(self, rng: np.random.Generator, pairs: list[tuple[str, int]]) -> tuple[str, int]:
        """Prefer services with fewer anomalies so kinds spread over services."""
        load = {s: sum(a.service == s for a in self.anomalies) for s in self.services}
        low = min(load[s] for s, _ in pairs)
        pool = [p for p in pairs if load[p[0]] <= low + 1]
        return pool[int(rng.integers(len(pool)))]

    def place(self, rng: np.random.Generator, pairs: list[tuple[str, int]], by_deploy: bool,
              span: tuple[float, float] | None = None,
              ) -> tuple[str, int, float, float] | None:
        """(service, route, start, end) for a new anomaly, trying several routes.

        ``span`` bounds the duration in minutes (default 8-30).
        """
        lo, hi = span or (8.0, 30.0)
        for _ in range(8):
            svc, j = self.choose(rng, pairs)
            dur = float(rng.uniform(lo, hi)) * 60.0
            start = self.slot(rng, svc, self.services[svc].routes[j].template, dur, by_deploy)
            if start is not None:
                return svc, j, start, start + dur
        return None

    def place_exact(self, rng: np.random.Generator, pairs: list[tuple[str, int]],
                    duration: float, by_deploy: bool,
                    within: tuple[float, float] | None = None) -> tuple[str, int, float] | None:
        """(service, route, start) for an anomaly of ``duration`` seconds, or None."""
        if not pairs:
            return None
        for _ in range(8):
            svc, j = self.choose(rng, pairs)
            start = self.slot(rng, svc, self.services[svc].routes[j].template, duration,
                              by_deploy, within=within)
            if start is not None:
                return svc, j, start
        return None

    def expected(self, service: str, route: int, start: float, end: float) -> float:
        """Requests the route is expected to get in [start, end) (mean rate if unknown)."""
        lam = self.minute_rates.get(service)
        if lam is None:
            return self.route_rates[service][route] * (end - start)
        m0, m1 = int((start - self.t0) // 60), int(np.ceil((end - self.t0) / 60))
        return float(lam[max(m0, 0):m1, route].sum()) * 60.0

    def slot(self, rng: np.random.Generator, service: str, template: str | None,
             duration: float, by_deploy: bool, tries: int = 40, also: tuple[str, ...] = (),
             exclusive: bool = False, within: tuple[float, float] | None = None,
             ) -> float | None:
        """A start time honouring warm-up, route gaps and deploy spacing, or None.

        ``within`` bounds the anomaly (start and end) to a span of the run.
        """
        earliest, latest = self.t_min, self.t1 - duration - 5 * 60.0
        if within is not None:
            earliest, latest = max(earliest, within[0]), min(latest, within[1] - duration)
        if latest <= earliest:
            return None
        for _ in range(tries):
            start = float(rng.uniform(earliest, latest))
            if self.free(service, (template, *also), start, start + duration, by_deploy,
                         exclusive):
                return start
        return None

    def free(self, service: str, templates: tuple[str | None, ...], start: float, end: float,
             by_deploy: bool, exclusive: bool = False) -> bool:
        """Whether an anomaly on ``templates`` of ``service`` may run in [start, end)."""
        for d in self.deploys:  # routine deploys planned first (a benign control's)
            if d.role == "harmless" and d.service == service and (
                    d.ts <= start <= d.ts + DEPLOY_QUIET_S or start <= d.ts <= end):
                return False
        for a in self.anomalies:
            if a.service != service:
                continue
            near = start < a.end + ROUTE_GAP_S and a.start < end + ROUTE_GAP_S
            if near and (exclusive or a.exclusive):
                return False
            if near and any(x is not None and x in templates for x in a.templates):
                return False
            if a.deploy is not None and a.deploy.ts <= start <= a.end + DEPLOY_QUIET_S:
                return False
            if by_deploy and start <= a.start <= end + DEPLOY_QUIET_S:
                return False
        return True

    def deploy_pair(self, rng: np.random.Generator, service: str, start: float, end: float,
                    silent: bool) -> tuple[Deploy, Deploy]:
        """The bad deploy at ``start`` and the rollback or hotfix that ends it at ``end``."""
        bad = Deploy(service, start, "bad", publish=not silent)
        # A rollback to an old version is invisible in access logs, so a
        # service without deployment events always ships a hotfix instead.
        role = "hotfix" if silent or rng.random() < 0.5 else "rollback"
        fix = Deploy(service, end - ROLLOUT_S, role, publish=not silent)
        self.deploys += [bad, fix]
        return bad, fix


class Injector:
    """Base class: one anomaly kind. Subclasses set ``kind`` and override hooks.

    Injectors hold no state between calls: the same instance serves every run.
    ``phase`` orders planning: phase 0 kinds are placed before phase 1 kinds,
    so adding kinds never costs the older ones their slots.
    """

    kind: ClassVar[Kind]  # set by every subclass
    phase: ClassVar[int] = 0
    # The variant of the kind this injector makes (labels' params.shape): the
    # registry's injectors make the classic ones, ``anomalies.SHAPES`` the others.
    shape: ClassVar[str] = "default"
    # False for a benign case planned like an anomaly (a clean canary): not written to
    # the labels but listed in the manifest's ``benign``, where an incident is a false one.
    labelled: ClassVar[bool] = True

    def plan(self, ctx: PlanContext, rng: np.random.Generator) -> Anomaly | None:
        raise NotImplementedError

    def arrivals(self, a: Anomaly, t: Traffic) -> None:
        """Add or remove requests (runs before attributes are drawn)."""

    def effects(self, a: Anomaly, t: Traffic) -> None:
        """Rewrite status / latency of requests (runs after attributes are drawn)."""


def route_window(a: Anomaly, t: Traffic) -> np.ndarray:
    """Rows of the anomaly's route in its time window, or served by its bad version."""
    assert a.route is not None
    on_route = t.on_route(a.route)
    if a.deploy is not None:
        return np.asarray(on_route & (t.version == t.version_of(a.deploy)))
    return np.asarray(on_route & (t.ts >= a.start) & (t.ts < a.end))


def duration(rng: np.random.Generator) -> float:
    return float(rng.uniform(8, 30)) * 60.0


def spread(rng: np.random.Generator, n: int, start: float, end: float) -> np.ndarray:
    """``n`` sorted arrival times in [start, end), bunched the way tools send (bursts)."""
    if n <= 0:
        return np.empty(0)
    bursts = max(1, int(rng.integers(1, 6)))
    centres = start + rng.random(bursts) * (end - start)
    width = (end - start) / (2.0 * bursts)
    ts = np.where(rng.random(n) < 0.6,
                  centres[rng.integers(0, bursts, n)] + rng.normal(0, width / 3.0, n),
                  start + rng.random(n) * (end - start))
    out = (ts < start) | (ts >= end)  # spill-over lands anywhere in the window instead
    ts[out] = start + rng.random(int(out.sum())) * (end - start)
    return np.sort(ts)


def body_logged(svc: ServiceSpec) -> bool:
    """Whether the service's log format records request bodies (Envoy's does not)."""
    return svc.format != "envoy"


def new_clients(pool: ClientPool, uas: list[str], cloud: bool = True) -> list[int]:
    """Clients never seen before (addresses nobody else uses), one per user agent."""
    taken = set(pool.ip)
    out = []
    for ua in uas:
        ip = pool.cloud_ip() if cloud else pool.residential_ip()
        while ip in taken:
            ip = pool.cloud_ip() if cloud else pool.residential_ip()
        taken.add(ip)
        out.append(pool.add(ip, ua))
    return out
