"""Canary releases in real-world runs: two versions in the logs, the change on the canary's only."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import pytest

from detector.simulate.anomalies import RELEASES
from detector.simulate.deploys import ROLLOUT_S
from tests.simulate.logs import jsonl, read_requests, route_regex, ts

pytestmark = pytest.mark.slow
CANARY_SHAPES = {"canary_errors": "error_surge", "canary_latency": "latency_regression",
                 "canary_size": "data_exposure"}


class Served(NamedTuple):
    ts: float
    method: str
    path: str
    status: int
    dur: float
    version: str
    nbytes: int


def served(run: Path, service: str) -> list[Served]:
    """Every request of ``service`` with the version that served it and its body size."""
    m = orjson.loads((run / "manifest.json").read_bytes())
    s = next(x for x in m["services"] if x["name"] == service)
    extra = []
    for r in jsonl(run / s["file"]):
        if s["layout"] == "nested":
            extra.append((r["service"]["version"], r["http"]["response"]["body"]["size"]))
        elif s["format"] == "otel":
            extra.append((r["service.version"], r["http.response.body.size"]))
        elif s["format"] == "nginx_json":
            extra.append((r["version"], r["body_bytes_sent"]))
        else:
            extra.append((r["version"], r["bytes_sent"]))
    return [Served(q.ts, q.method, q.path, q.status, q.dur, v, n)
            for q, (v, n) in zip(read_requests(run, service), extra, strict=True)]


def canaries(run: Path, shape: str) -> list[Any]:
    found = [x for x in jsonl(run / "labels.jsonl") if x["params"]["shape"] == shape]
    assert found, f"no {shape} label in the run"
    return found


def split(reqs: list[Served], x: Any, version: str) -> tuple[list[Served], list[Served]]:
    """(canary's, others') requests on the label's route during the canary."""
    rx = route_regex(x["route"])
    lo, hi = ts(x["start"]) + ROLLOUT_S, ts(x["end"]) - ROLLOUT_S
    on = [r for r in reqs if lo <= r.ts < hi and r.method == x["method"] and rx.match(r.path)]
    return [r for r in on if r.version == version], [r for r in on if r.version != version]


def test_canary_labels_carry_their_version_and_kind(real28: Path) -> None:
    labels = jsonl(real28 / "labels.jsonl")
    for shape, kind in CANARY_SHAPES.items():
        for x in canaries(real28, shape):
            assert x["kind"] == kind
            assert x["params"]["version"] == x["deployment"]
            assert 0.05 <= x["params"]["canary_share"] <= 0.2
    assert not [x for x in labels if x["params"]["shape"] == "canary_clean"]
    benign = orjson.loads((real28 / "manifest.json").read_bytes())["benign"]
    assert any(b["kind"] == "canary_clean" for b in benign)
    assert list(RELEASES)[:4] == ["canary_errors", "canary_latency", "canary_size",
                                  "canary_clean"]


def test_canary_serves_its_share_beside_the_old_version_then_is_rolled_back(
        real28: Path) -> None:
    for shape in CANARY_SHAPES:
        for x in canaries(real28, shape):
            version = x["params"]["version"]
            reqs = served(real28, x["service"])
            start, end = ts(x["start"]), ts(x["end"])
            during = [r for r in reqs if start <= r.ts < end - ROLLOUT_S]
            share = sum(r.version == version for r in during) / len(during)
            assert abs(share - x["params"]["canary_share"]) < 0.05, (x["id"], share)
            assert len({r.version for r in during}) == 2
            assert not [r for r in reqs if r.ts >= end and r.version == version], x["id"]
            assert not [r for r in reqs if r.ts < start and r.version == version], x["id"]


def test_canary_errors_fail_only_the_canarys_requests(real28: Path) -> None:
    for x in canaries(real28, "canary_errors"):
        mine, others = split(served(real28, x["service"]), x, x["params"]["version"])
        rate = sum(r.status >= 500 for r in mine) / len(mine)
        base = sum(r.status >= 500 for r in others) / len(others)
        # A few dozen canary requests: the drawn failure rate is within a factor of 2.5.
        assert rate >= 0.4 * x["params"]["effect"] and base < 0.03, (x["id"], rate, base)


def test_canary_latency_and_size_change_only_on_the_canary(real28: Path) -> None:
    for x in canaries(real28, "canary_latency"):
        mine, others = split(served(real28, x["service"]), x, x["params"]["version"])
        slow = statistics.median(r.dur for r in mine if r.status < 500)
        usual = statistics.median(r.dur for r in others if r.status < 500)
        assert slow > 1.6 * usual, x["id"]
    for x in canaries(real28, "canary_size"):
        mine, others = split(served(real28, x["service"]), x, x["params"]["version"])
        big = statistics.median(r.nbytes for r in mine if 200 <= r.status < 300)
        usual = statistics.median(r.nbytes for r in others if 200 <= r.status < 300)
        assert big > 2.5 * usual, x["id"]


def test_clean_canary_is_promoted(real28: Path) -> None:
    benign = orjson.loads((real28 / "manifest.json").read_bytes())["benign"]
    for b in [b for b in benign if b["kind"] == "canary_clean"]:
        reqs = served(real28, b["service"])
        end = ts(b["end"])
        during = {r.version for r in reqs if ts(b["start"]) + ROLLOUT_S <= r.ts < end}
        after = {r.version for r in reqs if end + ROLLOUT_S <= r.ts < end + 600}
        assert len(during) == 2 and len(after) == 1 and after <= during, b
