"""auth_failure_burst, shape ``slow_stuffing``: a low-and-slow credential-stuffing botnet.

200-600 residential addresses, each trying the login route only once or twice
every 10 minutes for about an hour, nearly every attempt refused: no client
stands out, only the crowd does. Labelled by route (client null): one
campaign, one incident.
"""

from __future__ import annotations

import numpy as np

from detector.simulate import vocab
from detector.simulate.anomalies.base import Anomaly, Injector, PlanContext
from detector.simulate.traffic import Traffic

BLOCK_S = 600.0  # a bot tries at most twice per block


class SlowStuffing(Injector):
    """Adds a botnet's sparse failed logins to an authentication route.

    >>> SlowStuffing.kind, SlowStuffing.shape
    ('auth_failure_burst', 'slow_stuffing')
    """

    kind = "auth_failure_burst"
    shape = "slow_stuffing"

    def plan(self, ctx: PlanContext, rng: np.random.Generator) -> Anomaly | None:
        placed = ctx.place(rng, ctx.candidates(0.1, lambda r: r.auth), by_deploy=False,
                           span=(50.0, 70.0))
        if placed is None:
            return None
        svc, j, start, end = placed
        r = ctx.services[svc].routes[j]
        bots = int(rng.integers(200, 601))
        a = Anomaly(self.kind, svc, j, r.template, r.method, start, end,
                    params={"clients": bots, "max_per_client_per_10min": 2},
                    extra={"shape": self.shape})
        a.description = (f"slow distributed credential stuffing on {r.key}: {bots} clients, "
                         f"at most 2 failures each per 10 min, {(end - start) / 60:.0f} min")
        return a

    def arrivals(self, a: Anomaly, t: Traffic) -> None:
        assert a.route is not None
        rng, pool = t.rng, t.pool
        bots = [pool.add(pool.residential_ip(),
                         vocab.BROWSER_UAS[int(rng.integers(len(vocab.BROWSER_UAS)))])
                for _ in range(int(a.params["clients"]))]
        blocks = np.arange(a.start, a.end, BLOCK_S)
        ts: list[float] = []
        who: list[int] = []
        for b in bots:
            for lo in blocks:
                hi = min(lo + BLOCK_S, a.end)
                k = int(rng.integers(1, 3))
                ts.extend((lo + rng.random(k) * (hi - lo)).tolist())
                who.extend([b] * k)
        n = len(ts)
        status = np.where(rng.random(n) < 0.95, 401, 200).astype(np.int16)
        t.add(np.asarray(ts), a.route, np.asarray(who, np.int32), a.index, status=status)
