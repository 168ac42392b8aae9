"""Unlabelled surprises: things that look odd and are fine.

A detector that raises incidents for these pays in precision, as it would
in production: a marketing bump, a slow crawler walking the catalogue,
one-off requests for favicons and well-known files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.simulate import vocab
from detector.simulate.catalog import RARE_WEIGHT, ServiceSpec
from detector.simulate.rates import marketing_bump
from detector.simulate.traffic import Traffic

SINGLETON = -3  # tag of one-off odd requests (answered 404)


@dataclass
class Benign:
    """One benign event, listed in the manifest to help debug false incidents.

    >>> Benign("crawler", "catalog", 0.0, 60.0, "walk").kind
    'crawler'
    """

    kind: str
    service: str
    start: float
    end: float
    description: str


def bump(lam: np.ndarray, service: str, start_ts: float, rng: np.random.Generator) -> Benign | None:
    """+30% on every route of the service for 20 minutes (newsletter, TV spot)."""
    minutes = lam.shape[0]
    if minutes < 90:
        return None
    at = int(rng.integers(60, minutes - 25))
    lam *= marketing_bump(minutes, at)[:, None]
    return Benign("marketing_bump", service, start_ts + at * 60.0, start_ts + (at + 20) * 60.0,
                  "+30% on all routes for 20 min")


def crawler(t: Traffic, route: int, rng: np.random.Generator) -> Benign:
    """A search-engine bot walking many distinct product pages, slowly and steadily."""
    span = t.end_ts - t.start_ts
    start = t.start_ts + span * float(rng.uniform(0.1, 0.5))
    end = min(t.end_ts, start + 2 * 3600.0)
    ts = np.arange(start, end, 1.0)
    ts = ts[rng.random(len(ts)) < 1 / 3.0]  # ~one page every 3 s
    first = int(rng.integers(10000, 40000))
    paths = [(f"/v1/products/SKU-{first + i:05d}", "", None) for i in range(len(ts))]
    client = t.pool.crawler[0]
    t.add(ts, route, np.full(len(ts), client, np.int32), -2, paths)
    return Benign("crawler", t.svc.name, start, end, f"{len(ts)} distinct product pages, 1 per 3 s")


def singletons(t: Traffic, rng: np.random.Generator) -> None:
    """A handful of one-off requests per hour for files every site gets asked for."""
    hours = (t.end_ts - t.start_ts) / 3600.0
    n = int(rng.poisson(4 * hours))
    ts = t.start_ts + rng.random(n) * (t.end_ts - t.start_ts)
    paths = [(vocab.SINGLETON_PATHS[int(i)], "", None)
             for i in rng.integers(0, len(vocab.SINGLETON_PATHS), n)]
    t.offroute.add(SINGLETON)
    t.add(ts, 0, t.clients_for(0, n), SINGLETON, paths)


def singleton_effects(t: Traffic) -> None:
    t.status[t.tag == SINGLETON] = 404
    t.shape_errors(t.tag == SINGLETON)


# Unlabelled, all-run traffic that looks like the security kinds and is normal.
_LOOKALIKES: dict[str, str] = {
    "search": "search terms that read like attacks: select chair, union jack flag, o'reilly "
              "books, <3 valentine, 50% off, c++ primer, rock & roll, 1=1 socks, drop table lamp",
    "catalog": "review bodies with quotes, apostrophes, '--', '<3', 'SELECT your size' and long "
               "prose",
    "accounts": "login/logout next and redirect parameters with full public URLs; emails with "
                "apostrophes",
    "orders": "delivery notes with quotes, '#', '&', ';' and '--'",
    "payments": "base64 signatures in webhook bodies",
}


def standing(services: tuple[ServiceSpec, ...], start: float, end: float) -> list[Benign]:
    """Manifest entries for look-alike content and rare routes present all run long."""
    out = [Benign("lookalikes", s.name, start, end, _LOOKALIKES[s.name])
           for s in services if s.name in _LOOKALIKES]
    for s in services:
        for r in s.routes:
            if r.weight == RARE_WEIGHT:
                out.append(Benign("rare_route", s.name, start, end,
                                  f"{r.key}: a few requests an hour from the start, "
                                  "never labelled new_endpoint"))
    return out
