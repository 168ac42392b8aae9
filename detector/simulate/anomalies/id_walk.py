"""object_enumeration, release case ``id_walk``: one client walking a route's object ids.

BOLA/IDOR probing: a script asks ``GET /v1/orders/{id}`` for id after id,
in order (sequential) or shuffled over a dense range. Fast: 2-5 req/s for
10-20 minutes. Slow: one request every 3-8 s for 60-90 minutes, under any
rate limit. Most answers are 200 (the objects exist and the route does not
check who owns them), 4-15 % are 404 (gaps in the id space). Keyed by client.
"""

from __future__ import annotations

import numpy as np

from detector.simulate import vocab
from detector.simulate.anomalies.base import Anomaly, Injector, PlanContext, new_clients
from detector.simulate.catalog import RouteSpec
from detector.simulate.traffic import Override, Traffic

# Where the route's own ids live (detector.simulate.fillers: 100,000 + rank * 7919 % 3 M).
ID_LOW, ID_HIGH = 100_000, 3_000_000
_SCRIPT_UAS = ("python-requests/2.31.0", "Go-http-client/1.1", "curl/8.5.0",
               "axios/1.6.7", "okhttp/4.12.0")


def walkable(r: RouteSpec) -> bool:
    """A GET route naming one object by a numeric id (``{id}``): what a walk reads."""
    return r.method == "GET" and r.template.count("{") == 1 and "{id}" in r.template


def walk_ids(rng: np.random.Generator, n: int, order: str) -> np.ndarray:
    """``n`` ids of one walk: consecutive, or a dense range (60-90 % of it) shuffled."""
    first = int(rng.integers(ID_LOW, ID_HIGH - 4 * n))
    if order == "sequential":
        return first + np.arange(n)
    width = int(n / rng.uniform(0.6, 0.9)) + 1
    return first + rng.permutation(width)[:n]


def walk_rows(a: Anomaly, t: Traffic, ts: np.ndarray, clients: np.ndarray) -> None:
    """Add the walk's requests: ids from the label's order, 200 or (``missing``) 404."""
    assert a.route is not None and a.template is not None
    rng = t.rng
    ids = walk_ids(rng, len(ts), str(a.extra["order"]))
    paths: list[Override | None] = [(a.template.replace("{id}", str(i)), "", None) for i in ids]
    status = np.where(rng.random(len(ts)) < a.params["missing"], 404, 200)
    a.params["requests"] = len(ts)
    a.params["id_low"], a.params["id_high"] = int(ids.min()), int(ids.max())
    t.add(ts, a.route, clients, a.index, paths, status)


class IdWalk(Injector):
    """One client reading object after object on an id-bearing route.

    >>> IdWalk.kind, IdWalk.shape
    ('object_enumeration', 'id_walk')
    """

    kind = "object_enumeration"
    shape = "id_walk"

    def plan(self, ctx: PlanContext, rng: np.random.Generator) -> Anomaly | None:
        mine = [a for a in ctx.anomalies if a.extra.get("shape") == self.shape]
        slow = bool(rng.random() < 0.4) or (len(mine) == 1 and mine[0].extra["pace"] == "fast")
        span = (60.0, 90.0) if slow else (10.0, 20.0)
        placed = ctx.place(rng, ctx.candidates(0.0, walkable), by_deploy=False, span=span)
        if placed is None:
            return None
        svc, j, start, end = placed
        r = ctx.services[svc].routes[j]
        rate = 1.0 / float(rng.uniform(3.0, 8.0)) if slow else float(rng.uniform(2.0, 5.0))
        order = "sequential" if rng.random() < 0.6 else "dense"
        a = Anomaly(self.kind, svc, j, r.template, r.method, start, end,
                    params={"rate": round(rate, 3),
                            "missing": round(float(rng.uniform(0.04, 0.15)), 3)},
                    extra={"shape": self.shape, "pace": "slow" if slow else "fast",
                           "order": order})
        a.description = (f"{'slow ' if slow else ''}{order} id walk on {r.key}: "
                         f"{rate:.2f} req/s for {(end - start) / 60:.0f} min, "
                         f"{a.params['missing']:.0%} 404")
        return a

    def arrivals(self, a: Anomaly, t: Traffic) -> None:
        rng = t.rng
        rate = a.params["rate"]
        if a.extra["pace"] == "slow":
            gaps = rng.uniform(0.75 / rate, 1.25 / rate, int(rate * (a.end - a.start) * 1.3) + 2)
            ts = a.start + np.cumsum(gaps) - gaps[0]
            ts = ts[ts < a.end]
        else:
            ts = np.sort(a.start + rng.random(int(rng.poisson(rate * (a.end - a.start))))
                         * (a.end - a.start))
        uas = _SCRIPT_UAS + vocab.BROWSER_UAS[:2]
        (client,) = new_clients(t.pool, [uas[int(rng.integers(len(uas)))]])
        a.client = t.pool.ip[client]
        a.description += f" from {a.client}"
        walk_rows(a, t, ts, np.full(len(ts), client, np.int32))
