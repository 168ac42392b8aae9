"""One service's requests as columns: arrivals first, then attributes.

Arrival times are drawn per (minute, route) from the expected rates, which
keeps generation vectorised. Injectors add or remove arrivals before the
attributes (status, latency, size, version) are drawn, and override
attributes afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from detector.simulate.catalog import ServiceSpec
from detector.simulate.clients import ClientPool
from detector.simulate.deploys import Deploy, version_index

BASELINE = -1  # tag of normal traffic
BENIGN = -2  # tag of unlabelled surprises (crawler, singletons)

# A row's (path, query, body) when it is not drawn from the route's fillers.
# A None path means "fill the route template as usual" (payload in query/body).
Override = tuple[str | None, str, str | None]

# POST routes that create a resource answer 201, actions answer 200.
_CREATES = {"payment", "review", "card", "address", "signup", "order", "refund"}
_5XX = np.array([500, 500, 500, 500, 500, 502, 502, 503, 503, 504], dtype=np.int16)


class Traffic:
    """Columns of one service's requests. ``tag`` ties a row to an anomaly.

    >>> from detector.simulate.catalog import PAYMENTS
    >>> rng = np.random.default_rng(0)
    >>> lam = np.full((2, len(PAYMENTS.routes)), 0.5)
    >>> t = Traffic(PAYMENTS, 0.0, lam, ClientPool(rng, 50), rng)
    >>> t.add(np.array([5.0, 1.0]), 0, np.array([0, 1]), BENIGN); t.finalize()
    >>> t.ts.tolist()
    [1.0, 5.0]
    """

    def __init__(self, svc: ServiceSpec, start_ts: float, lam: np.ndarray, pool: ClientPool,
                 rng: np.random.Generator) -> None:
        self.svc = svc
        self.start_ts = start_ts
        self.end_ts = start_ts + lam.shape[0] * 60.0
        self.lam = lam
        self.pool = pool
        self.rng = rng
        self.perm = pool.service_perm()
        self._chunks: list[tuple[np.ndarray, ...]] = []
        self.ts = np.empty(0)
        self.route = np.empty(0, dtype=np.int32)
        self.client = np.empty(0, dtype=np.int32)
        self.tag = np.empty(0, dtype=np.int32)
        self.override = np.empty(0, dtype=object)  # Override or None
        self.forced = np.empty(0, dtype=np.int16)  # status decided at arrival, 0 = draw it
        self.routes = [r.template for r in svc.routes]
        # Tags whose rows borrow a route index only for its method (scanners'
        # and one-off paths): they are not traffic of that route.
        self.offroute: set[int] = set()

    # -- arrivals -------------------------------------------------------------

    def add(self, ts: np.ndarray, route: np.ndarray | int, client: np.ndarray, tag: int,
            override: Sequence[Override | None] | None = None,
            status: np.ndarray | None = None) -> None:
        n = len(ts)
        over = np.empty(n, dtype=object)
        if override is not None:
            over[:] = list(override)
        forced = np.zeros(n, dtype=np.int16) if status is None else np.asarray(status, np.int16)
        self._chunks.append((np.asarray(ts, dtype=np.float64),
                             np.broadcast_to(np.asarray(route, dtype=np.int32), (n,)).copy(),
                             np.asarray(client, dtype=np.int32),
                             np.full(n, tag, dtype=np.int32), over, forced))

    def _cols(self) -> tuple[np.ndarray, ...]:
        return (self.ts, self.route, self.client, self.tag, self.override, self.forced)

    def _set_cols(self, cols: Sequence[np.ndarray]) -> None:
        self.ts, self.route, self.client, self.tag, self.override, self.forced = cols

    def finalize(self) -> None:
        """Merge pending arrivals into the time-sorted columns."""
        if not self._chunks:
            return
        parts = [self._cols(), *self._chunks]
        self._chunks = []
        cols = [np.concatenate([p[i] for p in parts]) for i in range(6)]
        order = np.argsort(cols[0], kind="stable")
        self._set_cols([c[order] for c in cols])

    def keep(self, mask: np.ndarray) -> None:
        self.finalize()
        self._set_cols([c[mask] for c in self._cols()])

    def on_route(self, route: int) -> np.ndarray:
        """Rows that are traffic of ``route`` (not scanners borrowing its index)."""
        mask = self.route == route
        if self.offroute:
            mask &= ~np.isin(self.tag, sorted(self.offroute))
        return np.asarray(mask)

    def clients_for(self, route: int, n: int) -> np.ndarray:
        group = self.svc.routes[route].clients
        if group == "users":
            return self.pool.draw_users(n, self.perm)
        ids = {"probe": self.pool.probe, "stripe": self.pool.stripe,
               "crawler": self.pool.crawler}[group]
        return np.asarray(ids, dtype=np.int32)[self.rng.integers(0, len(ids), n)]

    def arrivals_like(self, route: int, t_from: float, t_to: float, factor: float) -> np.ndarray:
        """Poisson arrival times at ``factor`` x the route's expected rate in [t_from, t_to)."""
        out = []
        m0 = max(int((t_from - self.start_ts) // 60), 0)
        m1 = min(int(np.ceil((t_to - self.start_ts) / 60)), self.lam.shape[0])
        for m in range(m0, m1):
            lo = max(self.start_ts + m * 60.0, t_from)
            hi = min(self.start_ts + (m + 1) * 60.0, t_to)
            k = self.rng.poisson(self.lam[m, route] * factor * (hi - lo))
            out.append(lo + self.rng.random(k) * (hi - lo))
        return np.concatenate(out) if out else np.empty(0)

    def baseline(self) -> None:
        """Normal traffic of every route."""
        minutes, nroutes = self.lam.shape
        counts = self.rng.poisson(self.lam * 60.0)
        for j, r in enumerate(self.svc.routes):
            if r.launched:
                continue  # no traffic until a deploy ships it (new_endpoint)
            if r.clients == "probe":
                # kubelet probes are periodic, not Poisson
                period = 1.0 / max(self.lam[0, j], 1e-6)
                ts = np.arange(self.start_ts + self.rng.random() * period, self.end_ts, period)
                ts = ts + self.rng.normal(0, 0.02, len(ts))
            else:
                m = np.repeat(np.arange(minutes), counts[:, j])
                ts = self.start_ts + (m + self.rng.random(len(m))) * 60.0
            self.add(ts, j, self.clients_for(j, len(ts)), BASELINE)

    # -- attributes -----------------------------------------------------------

    def assign(self, deploys: list[Deploy]) -> None:
        """Draw version, status, duration, size, payload flags for every row."""
        self.finalize()
        rng, svc, n = self.rng, self.svc, len(self.ts)
        r = self.route
        self.deploys = sorted(deploys, key=lambda d: d.ts)
        self.version = version_index(self.ts, self.deploys, rng)
        self.rnd = rng.integers(0, 2**63, n, dtype=np.int64)
        spec = svc.routes
        tables = {
            name: np.array([getattr(x, name) for x in spec], dtype=np.float64)
            for name in ("p404", "p400", "p422", "p401", "p304", "latency_ms", "sigma",
                         "q_prob", "bytes_median")
        }
        p5 = svc.p5xx * np.exp(rng.normal(0, 0.5, len(spec)))
        cum = np.cumsum(np.stack([p5, tables["p401"], tables["p404"], tables["p400"],
                                  tables["p422"], tables["p304"]]), axis=0)[:, r]
        u = rng.random(n)
        ok = np.array([_success(x.method, x.body) for x in spec], dtype=np.int16)
        codes = np.stack([_5XX[rng.integers(0, 10, n)], np.full(n, 401), np.full(n, 404),
                          np.full(n, 400), np.full(n, 422), np.full(n, 304)]).astype(np.int16)
        which = (u[None, :] >= cum).sum(axis=0)  # 0..5 an error bucket, 6 success
        status = ok[r].copy()
        err = which < 6
        status[err] = codes[which[err], np.flatnonzero(err)]
        forced = self.forced > 0
        status[forced] = self.forced[forced]
        self.status = status

        hour = ((self.ts % 86400.0) / 3600.0 - 14.0 + 12.0) % 24.0 - 12.0
        load = 1.0 + 0.08 * np.exp(-0.5 * (hour / 5.0) ** 2)  # slightly slower at peak
        dur = tables["latency_ms"][r] / 1000.0 * np.exp(tables["sigma"][r] * rng.normal(size=n))
        dur *= load
        tail = rng.random(n) < 0.007
        dur[tail] *= rng.uniform(3, 12, int(tail.sum()))
        self.dur = dur
        self.nbytes = (tables["bytes_median"][r] * np.exp(rng.normal(0, 0.4, n))).astype(np.int64)
        self.has_q = rng.random(n) < tables["q_prob"][r]
        has_body = np.array([x.body is not None for x in spec])
        self.has_b = has_body[r] & (rng.random(n) < 0.97)
        self.shape_errors(np.ones(n, dtype=bool))

    def shape_errors(self, rows: np.ndarray) -> None:
        """Give error responses among ``rows`` the latency and size errors have."""
        s = np.where(rows, self.status, 0)
        self.dur[s == 504] = 15.0 + self.rng.random(int((s == 504).sum())) * 0.05
        self.dur[s == 503] *= 0.05
        self.dur[s == 502] *= 0.3
        self.dur[(s >= 400) & (s < 500)] *= 0.4
        fail = (s >= 400) & (s != 504)
        self.nbytes[fail] = 60 + (self.rnd[fail] % 300)
        self.nbytes[(s == 204) | (s == 304)] = 0

    def version_of(self, deploy: Deploy) -> int:
        """Value of ``self.version`` on rows served by ``deploy``'s version."""
        return self.deploys.index(deploy) + 1

    def set_status(self, mask: np.ndarray, p: float, codes: np.ndarray) -> int:
        """Replace the status of a random share ``p`` of ``mask`` rows; returns rows changed."""
        hit = mask & (self.rng.random(len(mask)) < p)
        k = int(hit.sum())
        self.status[hit] = codes[self.rng.integers(0, len(codes), k)]
        self.shape_errors(hit)
        return k


def _success(method: str, body: str | None) -> int:
    if method == "DELETE":
        return 204
    if method == "POST" and body in _CREATES:
        return 201
    return 200
