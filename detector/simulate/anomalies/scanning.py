"""scanning: one client probing many missing or sensitive paths.

Fast: a content scanner (Nuclei, gobuster, Nikto) walking a checklist and a
wordlist, 100-2000 requests in 2-15 minutes. Slow: one request every 5-10 s
for 20-30 minutes behind a browser user agent, under most rate limits.
Answers are mostly 404, with 403/401 where a front end refuses. Keyed by
client; the scan owns its service's timeline so no route-keyed label is
buried under its 404s.
"""

from __future__ import annotations

import numpy as np

from detector.simulate import probes, vocab
from detector.simulate.anomalies.base import Anomaly, Injector, PlanContext, new_clients
from detector.simulate.traffic import Override, Traffic

_MAX_RATE = 25.0  # req/s a scanner keeps up against one site


class Scanning(Injector):
    """Adds one client's probes of paths no route serves.

    >>> Scanning.kind, Scanning.phase
    ('scanning', 1)
    """

    kind = "scanning"
    phase = 1

    def plan(self, ctx: PlanContext, rng: np.random.Generator) -> Anomaly | None:
        mine = [a for a in ctx.anomalies if a.kind == self.kind and "style" in a.extra]
        slow = bool(rng.random() < 0.3) or (len(mine) == 1 and mine[0].extra["style"] == "fast")
        if slow:
            dur = float(rng.uniform(20, 30)) * 60.0
            gap = float(rng.uniform(5, 10))
            n = int(dur / gap)
        else:
            dur = float(rng.uniform(2, 15)) * 60.0
            n = min(int(rng.integers(100, 2001)), int(dur * _MAX_RATE))
        for _ in range(8):
            svc, _j = ctx.choose(rng, [(s, 0) for s in ctx.classic])
            start = ctx.slot(rng, svc, None, dur, by_deploy=False, exclusive=True)
            if start is None:
                continue
            if slow:
                ua = vocab.BROWSER_UAS[int(rng.integers(len(vocab.BROWSER_UAS)))]
            else:
                ua = probes.SCANNER_UAS[int(rng.integers(len(probes.SCANNER_UAS)))]
            a = Anomaly(self.kind, svc, None, None, None, start, start + dur, exclusive=True,
                        params={"requests": n, "rate": round(n / dur, 3)},
                        extra={"style": "slow" if slow else "fast", "user_agent": ua})
            a.description = (f"{'low-and-slow ' if slow else ''}path scan: {n} probes of "
                             f"missing or sensitive paths in {dur / 60:.0f} min")
            return a
        return None

    def arrivals(self, a: Anomaly, t: Traffic) -> None:
        rng = t.rng
        n = int(a.params["requests"])
        (client,) = new_clients(t.pool, [str(a.extra["user_agent"])],
                                cloud=a.extra["style"] == "fast" or rng.random() < 0.5)
        a.client = t.pool.ip[client]
        a.description += f" from {a.client}"
        if a.extra["style"] == "slow":
            gaps = rng.uniform(5.0, 10.0, n)
            ts = a.start + np.cumsum(gaps) - gaps[0]
        else:
            ts = np.sort(a.start + rng.random(n) * (a.end - a.start))
        ts = ts[ts < a.end]
        paths = probes.scan_paths(len(ts), rng)
        status = np.array([probes.probe_status(p, rng) for p in paths], dtype=np.int16)
        over: list[Override | None] = [(p, "", None) for p in paths]
        a.params["requests"] = len(ts)
        a.params["distinct_paths"] = len(set(paths))
        # Route 0 only lends its method (GET): these rows are no route's traffic.
        t.offroute.add(a.index)
        t.add(ts, 0, np.full(len(ts), client, np.int32), a.index, over, status)
