"""Traffic spikes that a few clients make: a walk, a crawl or a campaign is not the route's traffic.

A client walking ``/v1/orders/{id}`` at a few requests a second, a bot crawling
product pages, a scanner or a credential stuffer hammering one route multiplies
a quiet route's rate: a real spike of requests, but not of the route's users,
and the client detectors (object_enumeration, scanning, auth, payload) judge
those clients. A ``traffic_spike`` is therefore not raised when most of its
excess over the expected level is made by three clients, or by a crew of up to
ten (a distributed walk) when no other client is as busy on the route: a crowd
has many busy users, and its busiest ones grow with it. Client windows count each
client's requests per series (``C_SERIES``), so every route can be judged so.
"""

from __future__ import annotations

from typing import Any

from detector.detectors.base import SeriesKey, Signal
from detector.windows.stats import client_series

FEW = 3  # clients whose requests alone may make a spike theirs
CREW = 10  # ... or up to this many, when no other client is as busy (a distributed walk)
HEAVY = 3  # requests on the route in the window: a client below this is one of the crowd
EXPLAINED = 0.6  # share of the excess those clients make


def few_clients_spikes(signals: list[Signal], clients: dict[tuple[str, str], list[Any]],
                       sid_of: dict[SeriesKey, int]) -> list[Signal]:
    """``signals`` without the traffic spikes that a few clients make.

    >>> from detector.detectors.base import Signal
    >>> from detector.windows.stats import C_COUNT, C_SERIES, new_client_stats
    >>> key = SeriesKey("shop", "GET", "/products")
    >>> spike = Signal(kind="traffic_spike", service="shop", route=key.route, method="GET",
    ...                client=None, start=0.0, end=60.0, score=0.9, observed=130.0,
    ...                baseline=10.0, requests=130, p_value=1e-9, extra={}, samples=[])
    >>> crawler = new_client_stats(0); crawler[C_COUNT], crawler[C_SERIES] = 120, {0: 120}
    >>> few_clients_spikes([spike], {("shop", "6.6.6.6"): crawler}, {key: 0})
    []
    >>> crowd = {("shop", f"10.0.0.{i}"): new_client_stats(0) for i in range(130)}
    >>> len(few_clients_spikes([spike], crowd, {key: 0}))
    1
    """
    spikes = [s for s in signals if s.kind == "traffic_spike" and s.route and s.method]
    if not spikes:
        return signals
    drop: set[int] = set()
    for s in spikes:
        sid = sid_of.get(SeriesKey(s.service, s.method or "", s.route or ""))
        excess = s.observed - s.baseline
        if sid is None or excess <= 0:
            continue
        heavy = sorted((n for (svc, _c), cs in clients.items()
                        if svc == s.service and (n := client_series(cs, sid)) >= HEAVY),
                       reverse=True)
        if _made_by_few(heavy, excess):
            drop.add(id(s))
    return [s for s in signals if id(s) not in drop] if drop else signals


def _made_by_few(heavy: list[int], excess: float) -> bool:
    """Whether the clients with ``heavy`` request counts (largest first) make the excess:
    the top FEW of them, or all of them when they are no more than CREW."""
    need = EXPLAINED * excess
    return sum(heavy[:FEW]) >= need or (len(heavy) <= CREW and sum(heavy) >= need)
