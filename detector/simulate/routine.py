"""Benign routines of real-world runs: an hourly batch job, marketing ramps, the weekend.

None of these is labelled; all are listed in the manifest's ``benign``. A
detector that raises incidents for them pays in precision: the batch job
hits a route at 10-30x its level every hour at the same minute, a campaign
lifts a service by 40-60 % without leaving its usual daily range, and the
weekend is simply quieter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.simulate.anomalies.base import PlanContext, new_clients
from detector.simulate.benign import Benign
from detector.simulate.catalog import ServiceSpec
from detector.simulate.traffic import Traffic
from detector.simulate.weekly import weekend_spans

BATCH = -4  # tag of the batch job's requests
BATCH_RATE = (0.03, 0.4)  # req/s: a route the step anomalies (busiest routes) leave alone
_BATCH_UAS = ("reconcile-job/2.3 (k8s CronJob) python-requests/2.31.0",
              "hourly-rollup/1.8 (k8s CronJob) Go-http-client/1.1")


@dataclass(frozen=True)
class HourlyBatch:
    """A cron job: ``length`` minutes every hour from ``minute`` past, ``factor`` x the route.

    >>> HourlyBatch("orders", 3, "/v1/orders", 15, 2, 20.0, 0.1, 2).per_hour_s
    120.0
    """

    service: str
    route: int
    template: str
    minute: int
    length: int
    factor: float
    route_rate: float  # the route's mean req/s, which ``factor`` multiplies
    clients: int

    @property
    def per_hour_s(self) -> float:
        return self.length * 60.0


def plan_batch(ctx: PlanContext, rng: np.random.Generator) -> HourlyBatch | None:
    """Pick the batch job's route and reserve it, so no labelled anomaly lands there."""
    pairs = ctx.between(*BATCH_RATE)
    if not pairs:
        return None
    svc, j = pairs[int(rng.integers(len(pairs)))]
    template = ctx.services[svc].routes[j].template
    ctx.reserved.add((svc, template))
    return HourlyBatch(svc, j, template, int(rng.choice([0, 5, 15, 30, 45])),
                       int(rng.integers(1, 4)), round(float(rng.uniform(10, 30)), 1),
                       ctx.route_rates[svc][j], int(rng.integers(1, len(_BATCH_UAS) + 1)))


def batch_arrivals(b: HourlyBatch, t: Traffic, rng: np.random.Generator) -> Benign:
    """Every hour of the run, from its first: ``length`` minutes of the job's requests."""
    ids = np.asarray(new_clients(t.pool, list(_BATCH_UAS[:b.clients])), np.int32)
    first = np.floor(t.start_ts / 3600.0) * 3600.0 + b.minute * 60.0
    chunks = []
    for at in np.arange(first, t.end_ts, 3600.0):
        at += float(rng.uniform(0, 20))  # cron fires on the minute, pods start a bit late
        if at < t.start_ts or at + b.per_hour_s > t.end_ts:
            continue
        n = int(rng.poisson(b.factor * b.route_rate * b.per_hour_s))
        chunks.append(at + np.sort(rng.random(n)) * b.per_hour_s)
    ts = np.concatenate(chunks) if chunks else np.empty(0)
    t.add(ts, b.route, ids[rng.integers(0, len(ids), len(ts))], BATCH)
    key = f"{t.svc.routes[b.route].method} {b.template}"
    return Benign("hourly_batch", b.service, t.start_ts, t.end_ts,
                  f"{key}: {b.length} min every hour at :{b.minute:02d}, x{b.factor:g} the "
                  f"route's mean rate, {b.clients} client(s), from the first hour")


def marketing_ramps(services: tuple[ServiceSpec, ...], lams: dict[str, np.ndarray],
                    t0: float, rng: np.random.Generator) -> list[Benign]:
    """One campaign a day: +40-60 % on a service, 20-30 min ramps, an hour or so on top.

    Placed where the lifted level stays under the service's highest level in
    the surrounding day (early morning, evening): within the seasonal envelope.
    """
    out = []
    minutes = next(iter(lams.values())).shape[0]
    for day in range(minutes // 1440):
        svc = services[int(rng.integers(len(services)))]
        lam = lams[svc.name]
        lift = float(rng.uniform(0.4, 0.6))
        up, top, down = (int(rng.integers(lo, hi)) for lo, hi in ((20, 31), (45, 76), (25, 36)))
        length = up + top + down
        level = lam.sum(axis=1)
        lo, hi = day * 1440, min((day + 1) * 1440, minutes) - length
        ok = [m for m in range(max(lo, 60), hi, 5)
              if level[m:m + length].max() * (1 + lift)
              <= level[max(m - 720, 0):m + length + 720].max()]
        if not ok:
            continue
        at = ok[int(rng.integers(len(ok)))]
        m = np.arange(minutes, dtype=np.float64) - at
        share = np.clip(np.minimum(m / up, (length - m) / down), 0.0, 1.0)
        steady = [j for j, r in enumerate(svc.routes) if not (r.flat or r.bursty)]
        lam[:, steady] *= (1.0 + lift * share)[:, None]
        out.append(Benign("marketing_ramp", svc.name, t0 + at * 60.0,
                          t0 + (at + length) * 60.0,
                          f"+{lift:.0%} on all routes: {up} min ramp up, {top} min on top, "
                          f"{down} min down; under the day's peak"))
    return out


def weekend_troughs(services: tuple[ServiceSpec, ...], t0: float, t1: float) -> list[Benign]:
    """Manifest entries for the weekend lows (``ServiceSpec.weekend``)."""
    return [Benign("weekend_trough", s.name, lo, hi,
                   f"weekend at x{s.weekend:g} of a weekday, daily peak 2 h later; ramps "
                   "over Friday evening and Sunday night")
            for lo, hi in weekend_spans(t0, t1) for s in services]
