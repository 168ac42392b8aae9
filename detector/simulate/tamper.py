"""Building blocks for hand-made requests: a route's normal query and body, bent.

Injectors of content anomalies start from what the route normally receives
(the same builders the fillers use) and change one thing, so the anomaly is
the change and not a request shape nobody sends.
"""

from __future__ import annotations

import re

import numpy as np
import orjson

from detector.simulate.catalog import RouteSpec
from detector.simulate.clients import ClientPool
from detector.simulate.fillers import BODIES, QUERIES, Body

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
Statuses = dict[int, float]


def normal_query(route: RouteSpec, rng: np.random.Generator) -> str:
    return QUERIES[route.query](rng) if route.query else ""


def normal_body(route: RouteSpec, rng: np.random.Generator) -> Body | None:
    return BODIES[route.body](rng) if route.body else None


def dump(body: Body) -> str:
    return orjson.dumps(body).decode()


def set_param(query: str, key: str, value: str) -> str:
    """``query`` with ``key`` set to the already-encoded ``value`` (replaced or appended)."""
    pairs = [p for p in query.split("&") if p and p.split("=", 1)[0] != key]
    pairs.append(f"{key}={value}")
    return "&".join(pairs)


def placeholders(template: str) -> list[str]:
    return _PLACEHOLDER.findall(template)


def fill_path(template: str, rng: np.random.Generator, pool: ClientPool,
              inject: tuple[int, str] | None = None) -> str:
    """A raw path for ``template``; ``inject`` = (placeholder position, raw segment)."""
    k = -1

    def one(m: re.Match[str]) -> str:
        nonlocal k
        k += 1
        if inject is not None and inject[0] == k:
            return inject[1]
        name = m.group(1)
        if name == "uuid":
            return pool.uid[int(rng.integers(len(pool.uid)))]
        if name == "sku":
            return f"SKU-{int(rng.integers(10000, 50000)):05d}"
        if name == "hash":
            return f"{int(rng.integers(1 << 62)):040x}"[:40]
        if name == "slug":
            return "sale"
        return str(int(rng.integers(100_000, 3_000_000)))

    return _PLACEHOLDER.sub(one, template)


def draw_status(table: Statuses, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` statuses from a {code: share} table."""
    codes = np.array(list(table), dtype=np.int16)
    p = np.array(list(table.values()), dtype=np.float64)
    return np.asarray(codes[rng.choice(len(codes), size=n, p=p / p.sum())])
