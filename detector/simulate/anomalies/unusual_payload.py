"""unusual_payload: requests far from a route's normal parameters, with no signature.

Variants: mass assignment (``is_admin``/``role`` in a user's JSON body),
unknown parameters, type changes (an object where a string lives, a string in
a numeric field), absurd values (quantity 1e18, negative amounts, a 600-character
currency code) and odd encodings (a wrong charset, an encoder's invalid UTF-8, byte
order marks, null bytes). None of them is a known attack string: overlong UTF-8 and
the 2**63 overflow probe are what attack tools send (the signature engine knows
them), so an unusual-payload label with one would name a campaign by the wrong kind. Sent by one
client (a fuzzer or a buggy integration: label keyed by client) or by a new
app version rolled out to many users (label keyed by route). Each campaign
fixes 1-4 mutations; every request carries at least one, and the label's
``markers`` are their exact renderings (JSON ``"key":value`` or ``key=value``).
"""

from __future__ import annotations

import re

import numpy as np
import orjson

from detector.simulate.anomalies.base import (
    Anomaly,
    Injector,
    PlanContext,
    body_logged,
    new_clients,
    spread,
)
from detector.simulate.catalog import RouteSpec
from detector.simulate.fillers import Body
from detector.simulate.tamper import (
    Statuses,
    draw_status,
    dump,
    normal_body,
    normal_query,
    set_param,
)
from detector.simulate.traffic import Override, Traffic

Value = str | int | float | bool | list[str] | dict[str, object]
Mutation = tuple[str, Value]  # (key, JSON value) in a body, (key, encoded value) in a query

_MASS_BODIES = ("profile", "signup")
_MASS: tuple[Mutation, ...] = (
    ("is_admin", True), ("role", "admin"), ("email_verified", True),
    ("account_balance", 1000000), ("permissions", ["*"]), ("tenant_id", "t_0001"),
    ("roles", ["admin", "support"]), ("credit_limit", 99999999),
)
_UNKNOWN_BODY: tuple[Mutation, ...] = (
    ("legacy_mode", True), ("client_context", {"build": 5130, "experiments": ["b2", "c7"]}),
    ("metadata_v2", {"source": "bulk-import", "batch": 17}), ("dry_run", "yes"),
    ("x_partner_ref", "PR-4471"), ("sync_token", "st-0000-0000"),
)
_UNKNOWN_QUERY: tuple[Mutation, ...] = (
    ("debug", "true"), ("_internal", "1"), ("expand", "everything"),
    ("include_deleted", "true"), ("admin_view", "1"), ("trace", "verbose"),
    ("format_v", "3"), ("shard", "7"), ("consistency", "strong"),
)
_STATUS: dict[str, Statuses] = {
    "mass_assignment": {200: 0.55, 403: 0.30, 422: 0.15},
    "unknown_params": {200: 0.80, 400: 0.20},
    "type_change": {400: 0.45, 422: 0.30, 500: 0.15, 200: 0.10},
    "absurd_values": {422: 0.40, 400: 0.30, 200: 0.20, 500: 0.10},
    "odd_encoding": {400: 0.60, 200: 0.30, 500: 0.10},
}
_OTHER = ("unknown_params", "type_change", "absurd_values", "odd_encoding")
_FUZZER_UAS = (
    "python-requests/2.31.0", "PostmanRuntime/7.37.0", "RESTler/9.2.4", "schemathesis/3.27.1",
    "partner-sync/2.5 (+https://partner.example.com)", "Go-http-client/2.0",
    "Apache-HttpClient/4.5.14 (Java/11.0.22)",
)
_NEW_APP_UAS = (
    "ShopApp/5.13.0 (iPhone; iOS 17.4; Scale/3.00)",
    "ShopApp/5.13.0 (Android 14; Pixel 8; okhttp/4.12.0)",
    "ShopApp/5.13.0 (Android 13; SM-S911B; okhttp/4.12.0)",
)


class UnusualPayload(Injector):
    """Adds requests whose parameters break the route's learned profile.

    >>> UnusualPayload.kind, UnusualPayload.phase
    ('unusual_payload', 1)
    """

    kind = "unusual_payload"
    phase = 1

    def plan(self, ctx: PlanContext, rng: np.random.Generator) -> Anomaly | None:
        mine = [a for a in ctx.anomalies if a.kind == self.kind]
        variants = [a.extra["variant"] for a in mine]
        styles = [a.extra["style"] for a in mine]
        mass = "mass_assignment" not in variants and (not mine or rng.random() < 0.5)
        placed = None
        def where(svc: str, r: RouteSpec) -> str | None:
            """Where this route's parameters show in its service's log, if anywhere."""
            if r.body is not None and body_logged(ctx.services[svc]):
                return "body"
            return "query" if r.query else None

        if mass:
            pairs = [(s, j) for s, j in ctx.candidates(0.01, lambda r: r.body in _MASS_BODIES)
                     if where(s, ctx.services[s].routes[j]) == "body"]
            placed = ctx.place(rng, pairs, by_deploy=False, span=(5, 20)) if pairs else None
        if placed is None:
            mass = False
            pairs = [(s, j) for s, j in ctx.candidates(0.05)
                     if where(s, ctx.services[s].routes[j]) is not None]
            placed = ctx.place(rng, pairs, by_deploy=False, span=(5, 20)) if pairs else None
        if placed is None:
            return None
        svc, j, start, end = placed
        r = ctx.services[svc].routes[j]
        if mass:
            variant = "mass_assignment"
        else:
            fresh = [v for v in _OTHER if v not in variants] or list(_OTHER)
            variant = fresh[int(rng.integers(len(fresh)))]
        if mass or not mine:
            style = "client"
        elif "version" not in styles:
            style = "version"
        else:
            style = "client" if rng.random() < 0.5 else "version"
        at = where(svc, r) or "query"
        muts = _mutations(variant, r, at, rng)
        markers = [_render(m, at) for m in muts]
        a = Anomaly(self.kind, svc, j, r.template, r.method, start, end,
                    params={"requests": int(rng.integers(30, 301))})
        a.extra = {"variant": variant, "style": style, "where": at, "markers": markers,
                   "fields": [k for k, _ in muts]}
        a.params["mutations"] = len(muts)
        who = ("one client (fuzzer or buggy integration)" if style == "client"
               else "new app version 5.13.0")
        a.description = (f"{variant.replace('_', ' ')} on {r.key} "
                         f"({', '.join(k for k, _ in muts)}) from {who}")
        return a

    def arrivals(self, a: Anomaly, t: Traffic) -> None:
        assert a.route is not None
        rng, pool = t.rng, t.pool
        r = t.svc.routes[a.route]
        n = int(a.params["requests"])
        if a.extra["style"] == "client":
            ua = _FUZZER_UAS[int(rng.integers(len(_FUZZER_UAS)))]
            (client,) = new_clients(pool, [ua], cloud=bool(rng.random() < 0.5))
            a.client = pool.ip[client]
            a.description += f" {a.client}"
            clients = np.full(n, client, np.int32)
            ts = spread(rng, n, a.start, a.end)
        else:
            k = int(rng.integers(15, 61))
            users = new_clients(pool, [_NEW_APP_UAS[int(i)] for i in rng.integers(0, 3, k)],
                                cloud=False)
            a.params["clients"] = k
            a.extra["addresses"] = [pool.ip[u] for u in users]  # route-keyed: for evaluators
            clients = np.asarray(users, np.int32)[rng.integers(0, k, n)]
            ts = np.sort(a.start + rng.random(n) * (a.end - a.start))
        muts = _decode(a)
        where = str(a.extra["where"])
        over: list[Override | None] = []
        for _ in range(n):
            chosen = [m for m in muts if rng.random() < 0.6] or \
                [muts[int(rng.integers(len(muts)))]]
            over.append(_apply(r, where, chosen, rng))
        status = draw_status(_STATUS[str(a.extra["variant"])], rng, n)
        if r.body is None:
            status[status == 422] = 400
        t.add(ts, a.route, clients, a.index, over, status)


def _render(m: Mutation, where: str) -> str:
    if where == "body":
        return orjson.dumps({m[0]: m[1]}).decode()[1:-1]
    return f"{m[0]}={m[1]}"


def _decode(a: Anomaly) -> list[Mutation]:
    """The campaign's mutations back from their renderings (kept in the label)."""
    out: list[Mutation] = []
    for marker in a.extra["markers"]:
        if a.extra["where"] == "body":
            ((k, v),) = orjson.loads("{" + marker + "}").items()
            out.append((k, v))
        else:
            k, _, v = marker.partition("=")
            out.append((k, v))
    return out


def _apply(r: RouteSpec, where: str, muts: list[Mutation], rng: np.random.Generator) -> Override:
    if where == "body":
        body: Body = normal_body(r, rng) or {}
        for k, v in muts:
            body[k] = v
        return (None, normal_query(r, rng) if r.query and rng.random() < r.q_prob else "",
                dump(body))
    query = normal_query(r, rng)
    for k, v in muts:
        query = set_param(query, k, str(v))
    return (None, query, None)


def _mutations(variant: str, r: RouteSpec, where: str,
               rng: np.random.Generator) -> list[Mutation]:
    """The 1-4 concrete changes a campaign makes to ``r``'s normal parameters."""
    k = int(rng.integers(1, 4))
    if variant == "mass_assignment":
        return _some(_MASS, rng, k + 1)
    if variant == "unknown_params":
        return _some(_UNKNOWN_BODY if where == "body" else _UNKNOWN_QUERY, rng, k + 1)
    base = _base_fields(r, where, rng)
    keys = [list(base)[int(i)] for i in rng.permutation(len(base))][:k]
    out: list[Mutation] = []
    for key in keys:
        v = base[key]
        if variant == "type_change":
            out.append((key, _wrong_type(v, where, rng)))
        elif variant == "absurd_values":
            out.append((key, _absurd(key, v, where, rng)))
        else:
            out.append((key, _odd(v, where, rng)))
    return out


def _some(pool: tuple[Mutation, ...], rng: np.random.Generator, k: int) -> list[Mutation]:
    return [pool[int(i)] for i in rng.permutation(len(pool))[: min(k, len(pool))]]


def _base_fields(r: RouteSpec, where: str, rng: np.random.Generator) -> dict[str, object]:
    if where == "body":
        body = normal_body(r, rng) or {}
        return dict(body) or {"name": "x"}
    pairs = [p.partition("=") for p in normal_query(r, rng).split("&") if p]
    return {k: _as_number(v) for k, _, v in pairs} or {"q": "shoes"}


def _as_number(v: str) -> object:
    return int(v) if v.isdigit() else v


def _wrong_type(v: object, where: str, rng: np.random.Generator) -> Value:
    if where == "query":
        if isinstance(v, int):
            return ("ten", "20.0.1", "%5Bobject%20Object%5D", "null", "NaN")[int(rng.integers(5))]
        return "%7B%22value%22%3A%22" + _alnum(v) + "%22%7D"
    if isinstance(v, bool):
        return ("yes", "1", "TRUE")[int(rng.integers(3))]
    if isinstance(v, int | float):
        return (f"{v}", f"{v} EUR", "twelve", f"{v / 100:.2f}".replace(".", ","))[
            int(rng.integers(4))]
    if isinstance(v, str):
        forms: tuple[Value, ...] = ({"value": v[:40], "type": "string"}, [v[:40], v[:40]],
                                    {"en": v[:40]})
        return forms[int(rng.integers(3))]
    return "[object Object]"


def _alnum(v: object) -> str:
    """The letters and digits of a value: no stray encodings that look like attacks."""
    return re.sub(r"[^A-Za-z0-9]", "", str(v))[:20] or "shoes"


def _absurd(key: str, v: object, where: str, rng: np.random.Generator) -> Value:
    if key == "currency" or (isinstance(v, str) and len(v) <= 4 and v.isupper()):
        return "EUR" * 200  # a 600-character currency code
    if isinstance(v, bool) or not isinstance(v, int | float):
        return "x" * int(rng.integers(600, 5000)) if where == "body" else "9" * 600
    choice = int(rng.integers(4))
    # 10**19: past int64, yet not a probe constant (2**63 is one)
    huge = (10**18, -abs(int(v)) - 1, -999999999, 10**19)[choice]
    return huge if where == "body" else str(huge)


def _odd(v: object, where: str, rng: np.random.Generator) -> Value:
    word = _alnum(v)[:12]
    if where == "query":
        # A CESU-8 surrogate (an encoder's invalid UTF-8), Latin-1, UTF-8 and UTF-16 byte
        # order marks, a null byte: what broken clients send, not what attack tools send.
        forms = (f"{word}%ED%A0%80", f"{word}%00", "%E9t%E9", f"%EF%BB%BF{word}",
                 f"{word}%FF%FE")
        return forms[int(rng.integers(len(forms)))]
    forms_b = (f"{word}\x00", f"\ufeff{word}", f"{word}\u202e", f"{word}\x00\x00\x00\x1b")
    return forms_b[int(rng.integers(len(forms_b)))]
