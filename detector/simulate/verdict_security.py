"""Release effects a gate's security and client checks must see (issue 13 scenarios).

Old clients broken, a debug endpoint shipped, an injection campaign starting
with the deploy, a permission check lost, answers tripled in size, and the
harmless counterpart: an ordinary feature route shipped. They reuse the
anomaly injectors' pieces (old-app population, engineers' calls, payload
lists) so these scenarios look like the rest of the simulator's traffic.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from detector.simulate import payloads
from detector.simulate.anomalies.auth_loosened import id_route
from detector.simulate.anomalies.base import Anomaly, body_logged, new_clients
from detector.simulate.anomalies.internal_endpoint import InternalEndpoint
from detector.simulate.anomalies.old_clients_broken import old_app_population, old_rows
from detector.simulate.anomalies.size_jump import answers_bodies
from detector.simulate.catalog import NEW_ROUTES, RouteSpec, ServiceSpec
from detector.simulate.tamper import draw_status, dump, normal_body, normal_query, set_param
from detector.simulate.traffic import BASELINE, Override, Traffic
from detector.simulate.verdict_effects import (
    NEW,
    Release,
    ReleaseEffect,
    new_rows,
    pick_route,
    uniform,
)

TAG = 0  # requests a release effect adds (``Traffic.tag``; normal traffic is BASELINE)
# Debug and configuration endpoints a release may leave switched on, per service.
DEBUG_PATHS = {"orders": "/debug/vars", "accounts": "/actuator/env",
               "payments": "/internal/debug/config", "catalog": "/actuator/env",
               "search": "/debug/pprof/heap"}
DEBUG_CALLS_S = 25 * 60.0  # engineers call it within the first 25 minutes
# How the service answers injection attempts: validation, a WAF rule, a leak.
_ATTACK_ANSWERS = {400: 0.45, 200: 0.35, 403: 0.12, 500: 0.08}


class OldClientsBroken(ReleaseEffect):
    """An old app build (a fifth to a third of a route's requests) gets 400/422 after the deploy.

    >>> OldClientsBroken.checks, OldClientsBroken.min_rate
    (('client_error_share',), 0.5)
    """

    name = "old_clients_broken"
    verdict = "fail"
    checks = ("client_error_share",)
    needs_route = True
    min_rate = 0.5

    def fits(self, r: RouteSpec) -> bool:
        return r.clients == "users"

    def plan(self, rel: Release, rates: np.ndarray) -> None:
        super().plan(rel, rates)
        uniform(rel, "population", 0.20, 0.33)
        uniform(rel, "fail", 0.85, 1.0)

    def arrivals(self, rel: Release, t: Traffic) -> None:
        assert rel.route is not None
        old_app_population(t, rel.route, rel.params["population"])

    def effects(self, rel: Release, t: Traffic) -> None:
        assert rel.route is not None
        old = new_rows(rel, t) & old_rows(t, rel.route)
        t.set_status(old, rel.params["fail"], np.array([400, 400, 422], dtype=np.int16))

    def describe(self, rel: Release) -> str:
        return (f"{rel.key}: the old ShopApp/3 Android build ({rel.params['population']:.0%} of "
                f"its requests) gets 400/422 on {rel.params['fail']:.0%} of them")


class DebugEndpoint(ReleaseEffect):
    """The release serves a debug endpoint; a few engineers call it, every call 200.

    >>> DebugEndpoint.checks, DEBUG_PATHS["orders"]
    (('new_endpoints',), '/debug/vars')
    """

    name = "debug_endpoint"
    verdict = "fail"
    checks = ("new_endpoints",)

    def extend(self, svc: ServiceSpec) -> ServiceSpec:
        debug = RouteSpec("GET", DEBUG_PATHS[svc.name], 4, bytes_median=3000, launched=True,
                          weight=0.0)
        return replace(svc, routes=(*svc.routes, debug))

    def plan(self, rel: Release, rates: np.ndarray) -> None:
        rel.route = len(rel.svc.routes) - 1
        rel.params["calls"] = int(rel.rng.integers(8, 31))
        rel.params["clients"] = int(rel.rng.integers(2, 6))

    def arrivals(self, rel: Release, t: Traffic) -> None:
        assert rel.route is not None
        r = rel.svc.routes[rel.route]
        calls = Anomaly("new_endpoint", rel.svc.name, rel.route, r.template, r.method,
                        rel.deploy.ts, rel.deploy.ts + DEBUG_CALLS_S, index=TAG,
                        params={"requests": rel.params["calls"],
                                "clients": rel.params["clients"]})
        InternalEndpoint().arrivals(calls, t)

    def describe(self, rel: Release) -> str:
        return (f"ships {rel.key}: {rel.params['calls']:.0f} calls from "
                f"{rel.params['clients']:.0f} engineers in its first 25 minutes, all 200")


class OrdinaryEndpoint(ReleaseEffect):
    """Harmless: the release ships an ordinary feature route that serves from then on.

    >>> OrdinaryEndpoint.verdict
    'pass'
    """

    name = "ordinary_endpoint"

    def extend(self, svc: ServiceSpec) -> ServiceSpec:
        return replace(svc, routes=(*svc.routes, NEW_ROUTES[svc.name][0]))

    def plan(self, rel: Release, rates: np.ndarray) -> None:
        rel.route = len(rel.svc.routes) - 1

    def arrivals(self, rel: Release, t: Traffic) -> None:
        assert rel.route is not None
        ts = t.arrivals_like(rel.route, rel.deploy.ts, t.end_ts, 1.0)
        t.add(ts, rel.route, t.clients_for(rel.route, len(ts)), TAG)

    def effects(self, rel: Release, t: Traffic) -> None:
        assert rel.route is not None
        # During the rollout, a request that reaches an old pod finds no such route.
        old = t.on_route(rel.route) & (t.version < NEW)
        t.status[old] = 404
        t.shape_errors(old)

    def describe(self, rel: Release) -> str:
        return (f"ships {rel.key}, an ordinary feature route with its share of the traffic: "
                "a gate should pass it (new_endpoints may list it, not fail it)")


class Injection(ReleaseEffect):
    """SQLi/XSS attempts on one route start with the deploy, 2-6 per 1,000 of its requests.

    >>> Injection.checks
    ('attack_findings', 'unusual_payload_findings')
    """

    name = "injection"
    verdict = "fail"
    checks = ("attack_findings", "unusual_payload_findings")
    min_rate = 1.0

    def plan(self, rel: Release, rates: np.ndarray) -> None:
        logged = body_logged(rel.svc)

        def takes_input(r: RouteSpec) -> bool:
            return r.query is not None or (r.body is not None and logged)

        rel.route = pick_route(rel, rates, takes_input, self.min_rate)
        uniform(rel, "per_1000", 2.0, 6.0, digits=2)
        choices = ("sqli", "xss", "sqli,xss")
        rel.words["categories"] = choices[int(rel.rng.integers(len(choices)))]
        rel.words["style"] = "single" if rel.rng.random() < 0.5 else "distributed"

    def arrivals(self, rel: Release, t: Traffic) -> None:
        assert rel.route is not None
        rng, r = t.rng, rel.svc.routes[rel.route]
        start = rel.deploy.ts + 60.0
        expected = expected_requests(t, rel.route, start, t.end_ts)
        n = max(10, round(rel.params["per_1000"] * expected / 1000.0))
        rel.params["requests"] = n
        cats = rel.words["categories"].split(",")
        single = rel.words["style"] == "single"
        uas = ([payloads.ATTACK_TOOL_UAS["sqlmap"]] if single
               else [f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) rv:{100 + i}.0"
                     for i in range(int(rng.integers(6, 16)))])
        bots = np.asarray(new_clients(t.pool, uas), np.int32)
        clients = bots[rng.integers(0, len(bots), n)]
        ts = np.sort(start + rng.random(n) * (t.end_ts - start))
        logged = body_logged(rel.svc)
        over = [attack_request(r, cats[int(rng.integers(len(cats)))], rng, logged)
                for _ in range(n)]
        t.add(ts, rel.route, clients, TAG, over, draw_status(_ATTACK_ANSWERS, rng, n))

    def describe(self, rel: Release) -> str:
        return (f"{rel.key}: {rel.words['style']} {rel.words['categories']} campaign from the "
                f"deploy on, {rel.params['per_1000']:g} per 1,000 of its requests")


def expected_requests(t: Traffic, route: int, t_from: float, t_to: float) -> float:
    """Requests ``route`` is expected to get in [t_from, t_to) (whole minutes)."""
    m0, m1 = int((t_from - t.start_ts) // 60), int(np.ceil((t_to - t.start_ts) / 60))
    return float(t.lam[max(m0, 0):m1, route].sum()) * 60.0


def attack_request(r: RouteSpec, category: str, rng: np.random.Generator,
                   in_body: bool) -> Override:
    """One request of route ``r`` with a payload in its query or (logged) JSON body."""
    payload = payloads.obfuscate(payloads.sample(category, rng), category, rng)
    body = normal_body(r, rng)
    if body is not None and in_body and (r.query is None or rng.random() < 0.5):
        keys = [k for k, v in body.items() if isinstance(v, str)] or list(body)
        body[keys[int(rng.integers(len(keys)))]] = payload
        return None, "", dump(body)
    query = normal_query(r, rng)
    names = [p.split("=", 1)[0] for p in query.split("&") if p]
    if names and rng.random() < 0.7:
        key = names[int(rng.integers(len(names)))]
    else:
        key = payloads.PARAMS[category][int(rng.integers(len(payloads.PARAMS[category])))]
    query = set_param(query, key, payloads.encode(payload, rng))
    return None, query, dump(body) if body is not None else None


class PermissionsLoosened(ReleaseEffect):
    """A route that refused 10-30 % of its requests (401 or 403) answers them after the deploy.

    >>> PermissionsLoosened.checks
    ('authorization_drift', 'auth_denial_share')
    """

    name = "permissions_loosened"
    verdict = "fail"
    checks = ("authorization_drift", "auth_denial_share")
    needs_route = True
    min_rate = 0.3

    def fits(self, r: RouteSpec) -> bool:
        return id_route(r)

    def plan(self, rel: Release, rates: np.ndarray) -> None:
        super().plan(rel, rates)
        uniform(rel, "share", 0.10, 0.30)
        rel.params["status"] = 403 if rel.rng.random() < 0.6 else 401

    def effects(self, rel: Release, t: Traffic) -> None:
        assert rel.route is not None
        # The previous version refused these; the release answers them like the rest.
        old = (t.on_route(rel.route) & (t.tag == BASELINE) & (t.status < 300)
               & (t.version < NEW))
        refused = old & (t.rng.random(len(old)) < rel.params["share"])
        t.status[refused] = int(rel.params["status"])
        t.shape_errors(refused)

    def describe(self, rel: Release) -> str:
        return (f"{rel.key}: refused {rel.params['share']:.0%} of its requests with "
                f"{rel.params['status']:.0f} before, answers them 200 after the deploy")


class SizeTripled(ReleaseEffect):
    """One route's successful answers on the new version are about three times larger.

    >>> SizeTripled.checks
    ('data_exposure', 'response_size')
    """

    name = "size_tripled"
    verdict = "fail"
    checks = ("data_exposure", "response_size")
    needs_route = True

    def fits(self, r: RouteSpec) -> bool:
        return answers_bodies(r)

    def plan(self, rel: Release, rates: np.ndarray) -> None:
        super().plan(rel, rates)
        uniform(rel, "factor", 2.8, 3.2, digits=2)

    def effects(self, rel: Release, t: Traffic) -> None:
        ok = new_rows(rel, t) & (t.status >= 200) & (t.status < 300) & (t.nbytes > 0)
        t.nbytes[ok] = (t.nbytes[ok] * rel.params["factor"]).astype(np.int64)

    def describe(self, rel: Release) -> str:
        return f"{rel.key}: 2xx response bodies x{rel.params['factor']:g}"
