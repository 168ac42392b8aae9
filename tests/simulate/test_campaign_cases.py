"""Campaign cases (issue 12): slow credential stuffing and a distributed scan, in the logs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.simulate.logs import jsonl, read_requests, route_regex, ts

pytestmark = pytest.mark.slow


def shaped(run: Path, shape: str) -> list[Any]:
    found = [x for x in jsonl(run / "labels.jsonl") if x["params"]["shape"] == shape]
    assert found, f"no {shape} label in the run"
    return found


def test_slow_stuffing_is_a_crowd_of_clients_failing_twice_per_10_min_at_most(
        real28: Path) -> None:
    for x in shaped(real28, "slow_stuffing"):
        assert x["kind"] == "auth_failure_burst" and x["client"] is None and x["route"]
        start, end = ts(x["start"]), ts(x["end"])
        assert end - start >= 50 * 60
        rx = route_regex(x["route"])
        fails = [r for r in read_requests(real28, x["service"])
                 if start <= r.ts < end and r.status == 401 and rx.match(r.path)]
        per_client = Counter(r.client for r in fails)
        assert len(per_client) >= 200, x["id"]
        per_block = Counter((r.client, int((r.ts - start) // 600)) for r in fails)
        over = {c for (c, _), n in per_block.items() if n > 2}
        # Busy background users of the route, not the bots.
        assert len(over) <= 0.02 * len(per_client), (x["id"], len(over))


def test_distributed_scan_is_many_clients_each_probing_a_few_paths(real28: Path) -> None:
    for x in shaped(real28, "distributed_scan"):
        assert x["kind"] == "scanning" and x["client"] is None and x["route"] == "/{path}"
        start, end = ts(x["start"]), ts(x["end"])
        missing = [r for r in read_requests(real28, x["service"])
                   if start <= r.ts < end and r.status == 404]
        per_client = Counter(r.client for r in missing)
        probers = [c for c, n in per_client.items() if n >= 2]
        assert len(probers) >= 80, x["id"]
        assert max(per_client.values()) <= 6
        assert len({r.path for r in missing}) >= 100


def _family_of(ua: str) -> bool:
    return ua.startswith("ShopApp/3.") and "Android" in ua


def test_old_clients_broken_fails_the_old_app_only(real28: Path) -> None:
    for x in shaped(real28, "old_clients_broken"):
        assert x["kind"] == "client_error_surge" and x["deployment"]
        assert x["params"]["population"] == "ShopApp/3 (Android)"
        start, end = ts(x["start"]) + 120, ts(x["end"]) - 120  # after the rollout
        rx = route_regex(x["route"])
        reqs = [r for r in read_requests(real28, x["service"])
                if start <= r.ts < end and r.method == x["method"] and rx.match(r.path)]
        old = [r for r in reqs if _family_of(r.ua)]
        rest = [r for r in reqs if not _family_of(r.ua)]
        assert old and rest, x["id"]
        assert sum(r.status in (400, 426) for r in old) >= 0.7 * len(old), x["id"]
        assert sum(r.status in (400, 426) for r in rest) <= 0.05 * len(rest) + 1, x["id"]


def test_app_drop_removes_the_old_app_only(real28: Path) -> None:
    for x in shaped(real28, "app_drop"):
        assert x["kind"] == "traffic_drop" and x["deployment"]
        assert x["params"]["population"] == "ShopApp/3 (Android)"
        start, end = ts(x["start"]), ts(x["end"])
        rx = route_regex(x["route"])
        # Other anomalies' clients (an attack on the route) are not the users' mix.
        attackers = {y["client"] for y in jsonl(real28 / "labels.jsonl") if y["client"]}
        reqs = [r for r in read_requests(real28, x["service"])
                if r.method == x["method"] and rx.match(r.path) and r.client not in attackers]
        span = end - start - 300
        before, during = start - span - 600, start + 300
        old_before, rest_before = _split(reqs, before, span)
        old_during, rest_during = _split(reqs, during, span)
        assert old_during <= 0.15 * old_before, x["id"]
        assert rest_during >= 0.5 * rest_before, x["id"]
        assert old_before >= 2 * rest_before, x["id"]


def _split(reqs: list[Any], lo: float, span: float) -> tuple[int, int]:
    """(old app requests, other requests) in [lo, lo + span)."""
    inside = [r for r in reqs if lo <= r.ts < lo + span]
    old = sum(_family_of(r.ua) for r in inside)
    return old, len(inside) - old
