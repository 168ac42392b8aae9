"""Traffic spikes that a few clients make: a walk over object ids is not the route's traffic.

A client walking ``/v1/orders/{id}`` at a few requests a second multiplies a quiet
route's rate: a real spike of requests, but not of the route's users, and the
client detectors (object_enumeration, scanning, auth) judge that client. A
``traffic_spike`` of an id-bearing route whose excess over the expected level
three clients or fewer make is therefore not raised. Only id-bearing routes can be
judged so: their client windows keep each request's series (``C_OBJ``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from detector.detectors.base import SeriesKey, Signal
from detector.windows.stats import client_objects

FEW = 3  # clients
EXPLAINED = 0.6  # share of the excess those clients make


def few_clients_spikes(signals: list[Signal], clients: dict[tuple[str, str], list[Any]],
                       sid_of: dict[SeriesKey, int], id_bearing: Sequence[bool]) -> list[Signal]:
    """``signals`` without the traffic spikes of id-bearing routes that a few clients make.

    >>> from detector.detectors.base import Signal
    >>> key = SeriesKey("shop", "GET", "/orders/{id}")
    >>> spike = Signal(kind="traffic_spike", service="shop", route=key.route, method="GET",
    ...                client=None, start=0.0, end=60.0, score=0.9, observed=130.0,
    ...                baseline=10.0, requests=130, p_value=1e-9, extra={}, samples=[])
    >>> walker = [120, 0, 0, None, None, None, [(0, f"/orders/{i}") for i in range(120)], -1]
    >>> few_clients_spikes([spike], {("shop", "6.6.6.6"): walker}, {key: 0}, [True])
    []
    >>> len(few_clients_spikes([spike], {}, {key: 0}, [True]))
    1
    """
    spikes = [s for s in signals if s.kind == "traffic_spike" and s.route and s.method]
    if not spikes:
        return signals
    drop: set[int] = set()
    for s in spikes:
        sid = sid_of.get(SeriesKey(s.service, s.method or "", s.route or ""))
        excess = s.observed - s.baseline
        if sid is None or not id_bearing[sid] or excess <= 0:
            continue
        per_client = sorted((sum(1 for x, _p in client_objects(cs) if x == sid)
                             for (svc, _c), cs in clients.items() if svc == s.service),
                            reverse=True)
        if sum(per_client[:FEW]) >= EXPLAINED * excess:
            drop.add(id(s))
    return [s for s in signals if id(s) not in drop] if drop else signals
