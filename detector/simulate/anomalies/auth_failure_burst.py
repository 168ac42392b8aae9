"""auth_failure_burst: credential stuffing on a credential endpoint.

Either one client hammering at 2-20 req/s (label keyed by client), or a
botnet of hundreds of residential addresses (label keyed by route only).
"""

from __future__ import annotations

import numpy as np

from detector.simulate import vocab
from detector.simulate.anomalies.base import Anomaly, Injector, PlanContext
from detector.simulate.traffic import Traffic

_FAIL = np.array([401] * 24 + [429], dtype=np.int16)
_SPOOFED_UAS = vocab.TOOL_UAS[:4] + vocab.BROWSER_UAS[:2]


class AuthFailureBurst(Injector):
    """Adds attacker requests to the login route, most answered 401.

    >>> AuthFailureBurst.kind
    'auth_failure_burst'
    """

    kind = "auth_failure_burst"

    def plan(self, ctx: PlanContext, rng: np.random.Generator) -> Anomaly | None:
        placed = ctx.place(rng, ctx.candidates(0.1, lambda r: r.auth), by_deploy=False)
        if placed is None:
            return None
        svc, j, start, end = placed
        r = ctx.services[svc].routes[j]
        a = Anomaly(self.kind, svc, j, r.template, r.method, start, end)
        base = ctx.route_rates[svc][j]
        if rng.random() < 0.55:
            a.params = {"rate": round(float(rng.uniform(2, 20)), 2), "clients": 1}
            a.description = f"credential stuffing from one client on {r.key}"
        else:
            a.params = {"rate": round(base * float(rng.uniform(1.0, 3.0)), 3),
                        "clients": int(rng.integers(200, 1500))}
            a.description = f"distributed credential stuffing on {r.key}"
        a.params["fail"] = round(float(rng.uniform(0.85, 0.97)), 3)
        a.description += f", {a.params['rate']:.1f} req/s, {a.params['fail']:.0%} failing"
        return a

    def arrivals(self, a: Anomaly, t: Traffic) -> None:
        assert a.route is not None
        rng, pool = t.rng, t.pool
        n = rng.poisson(a.params["rate"] * (a.end - a.start))
        ts = a.start + rng.random(n) * (a.end - a.start)
        if a.params["clients"] == 1:
            ip = pool.cloud_ip()
            a.client = ip
            clients = np.full(n, pool.add(ip, _SPOOFED_UAS[int(rng.integers(6))]), np.int32)
        else:
            bots = [pool.add(pool.residential_ip(),
                             vocab.BROWSER_UAS[int(rng.integers(len(vocab.BROWSER_UAS)))])
                    for _ in range(int(a.params["clients"]))]
            clients = np.asarray(bots, dtype=np.int32)[rng.integers(0, len(bots), n)]
        t.add(ts, a.route, clients, a.index)

    def effects(self, a: Anomaly, t: Traffic) -> None:
        t.set_status(t.tag == a.index, a.params["fail"], _FAIL)
