"""Series windows of a route served by two versions at once, drawn request by request."""

from __future__ import annotations

import random
from dataclasses import dataclass

from detector.detectors.base import SeriesKey, SeriesWindow
from detector.windows.stats import (
    BYTES,
    COUNT,
    HIST,
    NB_BYTES,
    S5XX,
    TIMED,
    V_5XX,
    V_BYTES,
    V_COUNT,
    V_HIST,
    V_TIMED,
    VER0,
    VERS,
    bisect_bounds,
    new_series_stats,
    new_version_stats,
    size_bucket,
)

KEY = SeriesKey("payments", "POST", "/v2/payments/{id}/refunds")
OLD, NEW = "2.40.2", "2.41.0"


@dataclass(frozen=True)
class Behaviour:
    """How one version answers: 5xx share, latency (s), 2xx body size (bytes)."""

    p5xx: float = 0.003
    latency: float = 0.08
    size: int = 1200


def window(i: int, rng: random.Random, n: int, new_share: float,
           old: Behaviour = Behaviour(), new: Behaviour = Behaviour()) -> SeriesWindow:
    """Window ``i`` of ``n`` requests, each of the new version with probability ``new_share``."""
    st = new_series_stats()
    for _ in range(n):
        is_new = rng.random() < new_share
        b = new if is_new else old
        ver = NEW if is_new else OLD
        if st[VER0] is None:
            st[VER0] = ver
        sub = None
        if ver != st[VER0]:
            if st[VERS] is None:
                st[VERS] = {}
            sub = st[VERS].setdefault(ver, new_version_stats())
            sub[V_COUNT] += 1
        st[COUNT] += 1
        if rng.random() < b.p5xx:
            st[S5XX] += 1
            if sub is not None:
                sub[V_5XX] += 1
            continue
        bucket = bisect_bounds(b.latency * rng.lognormvariate(0, 0.35))
        st[TIMED] += 1
        st[HIST][bucket] += 1
        sb = size_bucket(max(1, int(b.size * rng.lognormvariate(0, 0.4))))
        if st[BYTES] is None:
            st[BYTES] = [0] * NB_BYTES
        st[BYTES][sb] += 1
        if sub is not None:
            sub[V_TIMED] += 1
            sub[V_HIST][bucket] += 1
            if sub[V_BYTES] is None:
                sub[V_BYTES] = [0] * NB_BYTES
            sub[V_BYTES][sb] += 1
    return SeriesWindow(KEY, i * 60.0, i * 60.0 + 60.0, st, 1.0, deploy=None,
                        service_requests=n * 5)
