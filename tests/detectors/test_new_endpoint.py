"""new_endpoint on low-volume routes: sensitive-looking ones, deploys, probes, snapshots."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from detector.config import DetectorSettings
from detector.detectors.base import EndpointWindow, SeriesKey, Signal
from detector.detectors.new_endpoint import CLIENTS, CLIENTS_CAP, NewEndpointDetector
from detector.detectors.sensitive_routes import sensitive_reason
from detector.events import AccessEvent
from detector.state.codec import decode, encode

BORN_W = 100  # the service is seen at window 0 and learned for 60: born well after
DEPLOY = BORN_W * 60.0 - 240.0  # four minutes before the route's first request


def _ev(ts: float, client: str, status: int = 200, path: str = "/x") -> AccessEvent:
    return AccessEvent(ts, "pay", None, "GET", path, "", status, 0.01, 10, client, "ua", None,
                       None, "t.log", 0)


def _detector(key: SeriesKey) -> NewEndpointDetector:
    det = NewEndpointDetector(DetectorSettings())
    det.service_seen(key.service, 0)
    det.series_born(key, BORN_W, [])
    return det


def _feed(det: NewEndpointDetector, key: SeriesKey, hits: dict[int, list[AccessEvent]],
          deploy: float | None = DEPLOY, windows: int = 240) -> list[tuple[int, Signal]]:
    """Windows BORN_W.. with the given requests (by minute since birth); the signals raised.

    Like the pipeline, only windows with traffic reach the detector.
    """
    out = []
    for m in range(windows):
        evs = hits.get(m)
        if not evs:
            continue
        w = BORN_W + m
        ok = sum(1 for e in evs if e.status is not None and e.status < 400)
        # The pipeline keeps a window's first request, and its second if successful.
        samples = evs[:1] + [e for e in evs[1:2] if e.status is not None and e.status < 400]
        sig = det.on_window(key, w, w * 60.0, w * 60.0 + 60.0, len(evs), ok, samples, deploy)
        if sig is not None:
            out.append((m, sig))
    return out


def _slow(n: int, clients: int, every: int, status: int = 200) -> dict[int, list[AccessEvent]]:
    """``n`` requests, one every ``every`` minutes, round-robin over ``clients`` clients."""
    return {i * every: [_ev((BORN_W + i * every) * 60.0 + 5.0, f"10.1.0.{i % clients}", status)]
            for i in range(n)}


def test_low_volume_internal_endpoint_after_a_deploy_is_raised_with_clients_and_reason() -> None:
    key = SeriesKey("pay", "GET", "/internal/reindex/{id}")
    raised = _feed(_detector(key), key, _slow(12, 3, 6))  # 12 requests over 70 minutes
    assert len(raised) == 1
    m, sig = raised[0]
    assert m == 12  # its third request: three successes from three clients
    assert sig.kind == "new_endpoint" and sig.route == key.route
    assert sig.start == BORN_W * 60.0 + 5.0  # its first request: the deploy is 245 s before
    assert sig.extra["sensitive"] == "internal (segment 'internal')"
    assert sig.extra["distinct_clients"] == 3
    assert sig.extra["successful_requests"] == 3
    assert sig.extra["seconds_since_deploy"] == 245.0


def test_without_a_deploy_a_sensitive_route_keeps_the_ordinary_rules() -> None:
    key = SeriesKey("pay", "GET", "/internal/reindex/{id}")
    assert _feed(_detector(key), key, _slow(12, 3, 6), deploy=None) == []
    busy = {m: [_ev((BORN_W + m) * 60.0 + i, f"10.2.0.{i}") for i in range(12)] for m in range(3)}
    raised = _feed(_detector(key), key, busy, deploy=None)
    assert [m for m, _ in raised] == [0]
    assert "seconds_since_deploy" not in raised[0][1].extra


def test_a_route_born_long_after_the_deploy_keeps_the_ordinary_rules() -> None:
    # A rarely used old route (a data export a few users ask for) first seen late.
    key = SeriesKey("pay", "POST", "/v1/users/{id}/data-export")
    det = _detector(key)
    assert _feed(det, key, _slow(12, 3, 6), deploy=DEPLOY - 1800.0) == []
    assert key not in det.watch  # let go after the ordinary 15 windows


def test_one_client_alone_is_not_enough_even_after_a_deploy() -> None:
    key = SeriesKey("pay", "GET", "/admin/users")
    assert _feed(_detector(key), key, _slow(12, 1, 6)) == []


def test_a_scanner_probing_admin_paths_with_404_raises_nothing() -> None:
    key = SeriesKey("pay", "GET", "/admin/.env")
    probes = {m: [_ev((BORN_W + m) * 60.0 + i, f"6.6.6.{i}", 404) for i in range(4)]
              for m in range(0, 120, 3)}
    assert _feed(_detector(key), key, probes) == []


def test_redirects_to_a_login_page_are_not_clients_answered() -> None:
    key = SeriesKey("pay", "GET", "/admin")
    assert _feed(_detector(key), key, _slow(20, 5, 4, status=302)) == []


def test_mostly_failing_sensitive_route_is_not_raised() -> None:
    key = SeriesKey("pay", "GET", "/debug/vars")
    hits = _slow(12, 3, 6)
    for m in hits:
        hits[m] = hits[m] + [_ev((BORN_W + m) * 60.0 + 9.0, "6.6.6.6", 403)] * 4
    assert _feed(_detector(key), key, hits) == []


def test_ordinary_new_route_with_a_few_requests_is_not_raised() -> None:
    key = SeriesKey("pay", "GET", "/v2/disputes/{id}")
    assert _feed(_detector(key), key, _slow(5, 3, 2)) == []
    # ... nor with more, once its 15-window watch is over
    assert _feed(_detector(key), key, _slow(30, 5, 6)) == []


def test_busy_new_route_is_raised_in_its_first_window_as_before() -> None:
    key = SeriesKey("pay", "POST", "/v2/disputes/{id}")
    busy = {m: [_ev((BORN_W + m) * 60.0 + i, "10.2.0.1") for i in range(12)] for m in range(5)}
    raised = _feed(_detector(key), key, busy)
    assert [m for m, _ in raised] == [0]
    assert "sensitive" not in raised[0][1].extra


def test_sensitive_watch_ends_after_three_hours() -> None:
    key = SeriesKey("pay", "GET", "/internal/jobs")
    late = {m: [_ev((BORN_W + m) * 60.0, f"10.1.0.{m % 3}")] for m in range(181, 200)}
    det = _detector(key)
    det.on_window(key, BORN_W, BORN_W * 60.0, BORN_W * 60.0 + 60.0, 1, 0,
                  [_ev(BORN_W * 60.0, "6.6.6.6", 404)], DEPLOY)
    assert _feed(det, key, late) == []
    assert key not in det.watch


def test_distinct_clients_are_capped() -> None:
    key = SeriesKey("pay", "GET", "/internal/jobs")
    det = _detector(key)
    for m in range(60):  # one success from a new client in five requests: never raised
        w = BORN_W + m
        det.on_window(key, w, w * 60.0, w * 60.0 + 60.0, 5, 1, [_ev(w * 60.0, f"10.3.0.{m}")],
                      DEPLOY)
    assert len(det.watch[key][CLIENTS]) == CLIENTS_CAP


def test_check_is_pure_on_the_first_window() -> None:
    key = SeriesKey("pay", "GET", "/internal/jobs")
    det = _detector(key)
    before = repr(det.watch)
    x = EndpointWindow(key, BORN_W, BORN_W * 60.0, BORN_W * 60.0 + 60.0, 1, 1,
                       [_ev(BORN_W * 60.0 + 3, "10.1.0.1")], DEPLOY)
    assert det.check(x) == det.check(x) == []
    assert repr(det.watch) == before


def test_a_schema_1_snapshot_loads_with_its_watch_entries_upgraded() -> None:
    old = SeriesKey("pay", "GET", "/v1/exports/{id}")
    plain = SeriesKey("pay", "GET", "/v2/disputes/{id}")
    data: dict[str, Any] = {"first_window": {"pay": 0}, "known": set(),
                            "watch": {old: [100, 1, 1, 0], plain: [100, 2, 2, 0]}}
    det = NewEndpointDetector(DetectorSettings())
    det.restore({"v": 1, "data": data})
    assert det.watch[old] == [100, 1, 1, 0, None, None, "export (segment 'exports')", set()]
    assert det.watch[plain][6] is None
    det.restore(decode(orjson.loads(orjson.dumps(encode(det.snapshot())))))  # as a checkpoint
    assert det.watch[old][7] == set()
    # The old entry goes on: two more clients after a deploy raise it.
    sigs = [det.on_window(old, 100 + m, (100 + m) * 60.0, (101 + m) * 60.0, 1, 1,
                          [_ev((100 + m) * 60.0, f"10.1.0.{m}")], DEPLOY) for m in (1, 2)]
    assert sigs[0] is None and sigs[1] is not None


@pytest.mark.parametrize(("route", "word"), [
    ("/v1/exports/{id}", "export"), ("/admin", "admin"), ("/wp-admin/setup", "admin"),
    ("/actuator/heapdump", "actuator"), ("/debug/pprof/profile", "debug"),
    ("/v1/reports/exportCsv", "export"), ("/config.json", "config"), ("/.env", "env"),
    ("/metrics", "metrics"), ("/v2/db_backups/{id}", "backup"), ("/ops/flush-cache", "ops"),
    ("/api/graphql/introspection", "introspection"), ("/v1/AuditLogs", "audit"),
])
def test_sensitive_words_are_found_whole(route: str, word: str) -> None:
    reason = sensitive_reason(route)
    assert reason is not None and reason.split()[0] == word


@pytest.mark.parametrize("route", [
    "/v1/experts", "/v2/payments/{id}/disputes", "/v1/administrative-areas", "/v1/envelopes",
    "/v1/configurator", "/v1/products/{sku}/bundles", "/v1/dumpling-recipes", "/v1/{internal}",
    "/v1/shops/{id}/stops", "/v1/auditorium",
])
def test_ordinary_routes_are_not_sensitive(route: str) -> None:
    assert sensitive_reason(route) is None
