"""Series collected from a small replay: the counts the report draws are the traffic's."""

from __future__ import annotations

import pytest

from detector.incidents.model import Incident
from detector.report.collect import ClientTally, ReportCollector, sparse_quantile
from detector.report.metrics import ERR5, RATE, values
from tests.report.synth import T0, replay, traffic

ROUTE = ("shop", "GET /items/{id}")


def test_service_windows_hold_the_replayed_counts() -> None:
    c = ReportCollector()
    replay(traffic(30, per_minute=10, err5_every=10, duration=0.05), c)
    ws = c.services["shop"]
    assert [w.start for w in ws] == [T0 + 60 * k for k in range(30)]
    assert all(w.requests == 10 and w.err5 == 1 for w in ws)
    assert all(w.err4 == w.auth == w.nf == w.flagged == 0 for w in ws)
    assert values(ws, ERR5, 60.0) == [pytest.approx(0.1)] * 30
    assert values(ws, RATE, 60.0) == [pytest.approx(10.0)] * 30
    assert all(w.p50 is not None and 0.04 < w.p50 < 0.06 for w in ws)
    total = c.totals[ROUTE]
    assert (total.count, total.err5, total.err4) == (300, 30, 0)


def test_only_watched_routes_keep_a_whole_series() -> None:
    watched = ReportCollector(watch={ROUTE})
    replay(traffic(30), watched)
    assert [w.requests for w in watched.routes[ROUTE]] == [10] * 30
    unwatched = ReportCollector(history=5)
    replay(traffic(30), unwatched)
    assert unwatched.routes == {}
    assert [w.start for w in unwatched.recent[ROUTE]] == [T0 + 60 * k for k in range(25, 30)]


def _incident(route: str | None) -> Incident:
    return Incident(id="inc-000000000001", status="open", kind="error_surge", severity="high",
                    service="shop", route=route, method="GET" if route else None, client=None,
                    start="2026-03-20T00:20:00Z", end="2026-03-20T00:21:00Z",
                    detected_at="2026-03-20T00:21:00Z", score=0.9, summary="s", evidence={},
                    deployment=None)


def test_an_incident_promotes_its_route_with_its_recent_windows() -> None:
    c = ReportCollector(history=5)
    events = traffic(30)
    p = replay(events[:200], c)  # 20 windows closed, minus the open last one
    kept = [w.start for w in c.recent[ROUTE]]
    c.incident(_incident("/items/{id}"))
    assert [w.start for w in c.routes[ROUTE]] == kept
    assert ROUTE not in c.recent and ROUTE in c.watch
    assert c.incidents["inc-000000000001"].kind == "error_surge"
    c.incident(_incident(None))  # a client-keyed incident names no route: nothing to keep
    assert set(c.routes) == {ROUTE}
    assert p.summary.events == 200


def test_client_tally_counts_exactly_and_stays_bounded() -> None:
    t = ClientTally(capacity=3)
    heavy = traffic(10, per_minute=10)  # 100 requests over 7 clients, 10 of them 500
    from detector.events import AccessEvent
    crowd = [AccessEvent(T0 + i, "shop", None, "GET", "/", "", 404, None, None,
                         f"192.0.2.{i}", "ua", None, None, "f", i) for i in range(50)]
    list(t.watch([*heavy, *crowd]))
    assert len(t.counts) <= 6  # never more than twice the capacity
    top = t.top(3)
    assert [row[0] for row in top] == ["10.0.0.0", "10.0.0.1", "10.0.0.2"]
    assert sum(row[1] for row in top) == 15 + 15 + 14
    assert all(row[2] == 0 for row in top)  # their errors are 5xx, not 4xx
    assert sum(row[3] for row in top) > 0


def test_sparse_quantile_reads_buckets_in_order() -> None:
    low = sparse_quantile({10: 90, 40: 10}, 0.5)
    high = sparse_quantile({10: 90, 40: 10}, 0.95)
    assert low is not None and high is not None and low < 0.01 < high
