"""A small deterministic API for verdict tests: three routes, a deploy, one effect.

``GET /v1/items/{id}`` (half the traffic), ``POST /v1/orders``, ``GET /v1/users/{id}``
(15 % denied with 401); 0.3 % 5xx everywhere. Version 1.0 before the deploy, 1.1 after
(or 1.1 on a ``canary`` share of the requests beside 1.0).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import orjson

from detector.events import AccessEvent

T0 = 1_773_000_000.0  # 2026-03-08T20:00:00Z
BEFORE = 7200.0
DEPLOY = T0 + BEFORE
ROUTES: list[tuple[str, str, float, float, int]] = [  # method, path, share, latency, bytes
    ("GET", "/v1/items/{}", 0.5, 0.03, 800), ("POST", "/v1/orders", 0.2, 0.08, 300),
    ("GET", "/v1/users/{}", 0.3, 0.02, 500)]


def _pick(r: float) -> tuple[str, str, float, int]:
    acc = 0.0
    for method, pattern, share, lat, size in ROUTES:
        acc += share
        if r < acc:
            return method, pattern, lat, size
    method, pattern, _, lat, size = ROUTES[-1]
    return method, pattern, lat, size


def gen(effect: str = "none", *, seed: int = 1, rate: float = 300.0, after: float = 3000.0,
        canary: float | None = None, base_errors: float = 0.003) -> list[AccessEvent]:
    """Requests per minute ``rate``; ``effect`` applies to version 1.1's requests."""
    rnd = random.Random(seed)
    evs: list[AccessEvent] = []
    t = T0
    while True:
        t += rnd.expovariate(rate / 60)
        if t >= DEPLOY + after:
            return evs
        method, pattern, lat, size = _pick(rnd.random())
        post = t >= DEPLOY
        ver = "1.1" if post else "1.0"
        if canary is not None and post:
            ver = "1.1" if rnd.random() < canary else "1.0"
        path = pattern.format(rnd.randint(1, 10**6)) if "{}" in pattern else pattern
        status = 500 if rnd.random() < base_errors else 200
        d = lat * rnd.lognormvariate(0, 0.4)
        b = int(size * rnd.lognormvariate(0, 0.2))
        if pattern == "/v1/users/{}" and rnd.random() < 0.15:
            status = 401
        if ver == "1.1":
            if effect == "errors" and pattern == "/v1/orders" and rnd.random() < 0.08:
                status = 503
            if effect == "errors_big" and rnd.random() < 0.5:
                status = 503
            if effect == "latency" and pattern == "/v1/items/{}":
                d *= 2
            if effect == "lat5":
                d *= 1.05
            if effect == "size" and pattern == "/v1/items/{}":
                b *= 3
            if effect == "authz" and status == 401:
                status = 200
            if effect in ("debug", "feature") and rnd.random() < 0.01:
                method, path = "GET", "/debug/vars" if effect == "debug" else "/v1/wishlist"
        evs.append(AccessEvent(t, "shop", ver, method, path, "", status, d, b,
                               f"10.0.{rnd.randint(0, 50)}.{rnd.randint(1, 250)}", "app/1.0",
                               None, None, "synth", len(evs) + 1))


def write_otel(events: list[AccessEvent], path: Path) -> Path:
    """The events as OpenTelemetry JSON lines."""
    with path.open("wb") as f:
        for e in events:
            f.write(orjson.dumps({
                "timestamp": datetime.fromtimestamp(e.ts, UTC).isoformat().replace("+00:00", "Z"),
                "service.name": e.service, "service.version": e.version,
                "http.request.method": e.method, "url.path": e.path,
                "http.response.status_code": e.status,
                "http.server.request.duration": e.duration, "client.address": e.client,
                "user_agent.original": e.user_agent, "http.response.body.size": e.bytes,
            }) + b"\n")
    return path
