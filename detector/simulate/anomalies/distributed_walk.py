"""object_enumeration, release case ``distributed_walk``: a few clients sharing one walk.

3-8 addresses (a small proxy pool) split one walk of a route's object ids
between them, each taking the next id in turn: together 1-4 req/s for 15-30
minutes, each under a per-client rate limit. Mostly 200, some 404. One
campaign, one label keyed by route (no client).
"""

from __future__ import annotations

import numpy as np

from detector.simulate import vocab
from detector.simulate.anomalies.base import Anomaly, Injector, PlanContext, new_clients
from detector.simulate.anomalies.id_walk import walk_rows, walkable
from detector.simulate.traffic import Traffic


class DistributedWalk(Injector):
    """Several clients taking turns at one walk of a route's ids.

    >>> DistributedWalk.kind, DistributedWalk.shape
    ('object_enumeration', 'distributed_walk')
    """

    kind = "object_enumeration"
    shape = "distributed_walk"

    def plan(self, ctx: PlanContext, rng: np.random.Generator) -> Anomaly | None:
        placed = ctx.place(rng, ctx.candidates(0.0, walkable), by_deploy=False,
                           span=(15.0, 30.0))
        if placed is None:
            return None
        svc, j, start, end = placed
        r = ctx.services[svc].routes[j]
        clients = int(rng.integers(3, 9))
        rate = float(rng.uniform(1.0, 4.0))
        order = "sequential" if rng.random() < 0.6 else "dense"
        a = Anomaly(self.kind, svc, j, r.template, r.method, start, end,
                    params={"rate": round(rate, 3), "clients": clients,
                            "missing": round(float(rng.uniform(0.04, 0.15)), 3)},
                    extra={"shape": self.shape, "order": order})
        a.description = (f"distributed {order} id walk on {r.key}: {clients} clients, "
                         f"{rate:.1f} req/s together for {(end - start) / 60:.0f} min, "
                         f"{a.params['missing']:.0%} 404")
        return a

    def arrivals(self, a: Anomaly, t: Traffic) -> None:
        rng = t.rng
        n = int(rng.poisson(a.params["rate"] * (a.end - a.start)))
        ts = np.sort(a.start + rng.random(n) * (a.end - a.start))
        k = int(a.params["clients"])
        ua = vocab.BROWSER_UAS[int(rng.integers(len(vocab.BROWSER_UAS)))]
        ids = new_clients(t.pool, [ua] * k)
        a.extra["participants"] = [t.pool.ip[i] for i in ids]
        turns = np.asarray(ids, np.int32)[np.arange(n) % k]  # the next id, the next client
        walk_rows(a, t, ts, turns)
