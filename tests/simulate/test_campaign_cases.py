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
        assert len(over) <= 3, (x["id"], len(over))  # background users, not the bots


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
