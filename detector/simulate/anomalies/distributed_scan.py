"""scanning, shape ``distributed_scan``: a crowd of addresses sharing one path scan.

100-250 cloud and residential addresses each send a short burst of 3-6 probes
of missing or sensitive paths (a few seconds apart) at some point of a 4-8
minute span: no address probes enough paths to look like a scanner on its own.
Labelled by service (route ``/{path}``, the campaign key of detector.detectors.
campaigns, client null).
"""

from __future__ import annotations

import numpy as np

from detector.simulate import probes, vocab
from detector.simulate.anomalies.base import Anomaly, Injector, PlanContext
from detector.simulate.traffic import Override, Traffic

SCAN_ROUTE = "/{path}"


class DistributedScan(Injector):
    """Adds many clients' short probe bursts of paths no route serves.

    >>> DistributedScan.kind, DistributedScan.shape
    ('scanning', 'distributed_scan')
    """

    kind = "scanning"
    shape = "distributed_scan"

    def plan(self, ctx: PlanContext, rng: np.random.Generator) -> Anomaly | None:
        dur = float(rng.uniform(4, 8)) * 60.0
        for _ in range(8):
            svc, _j = ctx.choose(rng, [(s, 0) for s in ctx.classic])
            start = ctx.slot(rng, svc, None, dur, by_deploy=False, exclusive=True)
            if start is None:
                continue
            bots = int(rng.integers(100, 251))
            a = Anomaly(self.kind, svc, None, SCAN_ROUTE, None, start, start + dur,
                        exclusive=True, params={"clients": bots},
                        extra={"shape": self.shape})
            a.description = (f"distributed path scan: {bots} clients, 3-6 probes each, "
                             f"in {dur / 60:.0f} min")
            return a
        return None

    def arrivals(self, a: Anomaly, t: Traffic) -> None:
        rng, pool = t.rng, t.pool
        uas = (*vocab.TOOL_UAS[:6], *probes.SCANNER_UAS)
        ts: list[float] = []
        who: list[int] = []
        for _ in range(int(a.params["clients"])):
            ip = pool.cloud_ip() if rng.random() < 0.6 else pool.residential_ip()
            c = pool.add(ip, uas[int(rng.integers(len(uas)))])
            k = int(rng.integers(3, 7))
            first = a.start + float(rng.random()) * (a.end - a.start - 30.0)
            ts.extend((first + np.sort(rng.random(k)) * 20.0).tolist())
            who.extend([c] * k)
        paths = probes.scan_paths(len(ts), rng)
        order = rng.permutation(len(paths))
        paths = [paths[int(i)] for i in order]
        status = np.array([probes.probe_status(p, rng) for p in paths], dtype=np.int16)
        over: list[Override | None] = [(p, "", None) for p in paths]
        a.params["requests"] = len(ts)
        a.params["distinct_paths"] = len(set(paths))
        t.offroute.add(a.index)  # route 0 only lends its method (GET)
        t.add(np.asarray(ts), 0, np.asarray(who, np.int32), a.index, over, status)
