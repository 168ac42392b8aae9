"""Release cases of data_exposure (issue 12) in a real-world run, checked against its logs.

``size_jump``: from the bad deploy every 2xx answer of the route is a few times
larger, nothing else changes; ``size_tail``: a share of the answers is. The
benign control grows a busy route's answers by 5-10 % and is never labelled.
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path
from typing import Any

import orjson
import pytest

from detector.events import AccessEvent
from detector.sources.files import FileSource
from tests.simulate.logs import jsonl, ts

pytestmark = pytest.mark.slow


def _events(run: Path, service: str) -> list[AccessEvent]:
    m = orjson.loads((run / "manifest.json").read_bytes())
    s = next(x for x in m["services"] if x["name"] == service)
    return [e for e in FileSource(str(run / s["file"]), service=service)
            if isinstance(e, AccessEvent)]


def _route_regex(template: str) -> re.Pattern[str]:
    # A placeholder stands for an id, which has a digit: "/v1/users/me" is not a user id.
    return re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]*[0-9][^/]*", re.escape(template)) + "$")


def _on(evs: list[AccessEvent], method: str, route: str, lo: float, hi: float,
        ) -> list[AccessEvent]:
    rx = _route_regex(route)
    return [e for e in evs if e.method == method and lo <= e.ts < hi and rx.match(e.path)]


def _sizes(evs: list[AccessEvent]) -> list[int]:
    return sorted(e.bytes or 0 for e in evs if e.status is not None and 200 <= e.status < 300)


def _q(xs: list[int], q: float) -> float:
    return float(xs[min(len(xs) - 1, int(q * len(xs)))])


def _labels(run: Path, shape: str) -> list[Any]:
    found = [x for x in jsonl(run / "labels.jsonl") if x["params"].get("shape") == shape]
    assert found, f"no {shape} label in the run"
    return found


def _before_after(run: Path, x: Any) -> tuple[list[AccessEvent], list[AccessEvent]]:
    evs = _events(run, x["service"])
    start, end = ts(x["start"]), ts(x["end"])
    before = _on(evs, x["method"], x["route"], start - 3 * 3600, start)
    # Past the rolling update (90 s) and before the fix rolls out.
    after = _on(evs, x["method"], x["route"], start + 120, end - 10)
    return before, after


def test_size_jump_grows_every_answer_and_nothing_else(real28: Path) -> None:
    for x in _labels(real28, "size_jump"):
        assert x["kind"] == "data_exposure" and x["route"] and x["client"] is None
        assert x["deployment"] is not None and x["params"]["factor"] >= 2.5
        before, after = _before_after(real28, x)
        s0, s1 = _sizes(before), _sizes(after)
        assert len(s1) >= 30, x["id"]
        for q in (0.1, 0.5, 0.9):
            assert _q(s1, q) / _q(s0, q) == pytest.approx(x["params"]["factor"], rel=0.35)
        # Same share of errors and the same latency: only sizes changed.
        err0 = sum(e.status is None or e.status >= 400 for e in before) / len(before)
        err1 = sum(e.status is None or e.status >= 400 for e in after) / len(after)
        assert err1 <= err0 + 0.05, x["id"]
        d0 = statistics.median(e.duration or 0.0 for e in before)
        d1 = statistics.median(e.duration or 0.0 for e in after)
        assert 0.7 < d1 / d0 < 1.4, x["id"]


def test_size_tail_grows_the_upper_quantiles_only(real28: Path) -> None:
    for x in _labels(real28, "size_tail"):
        assert x["deployment"] is not None and 0.15 <= x["params"]["share"] <= 0.30
        before, after = _before_after(real28, x)
        s0, s1 = _sizes(before), _sizes(after)
        assert _q(s1, 0.5) / _q(s0, 0.5) < 1.6, x["id"]
        assert _q(s1, 0.95) / _q(s0, 0.95) > 2.0, x["id"]
        # Above anything the route sent before (its p99): most of the share made large.
        big = sum(s > _q(s0, 0.99) for s in s1) / len(s1)
        assert 0.5 * x["params"]["share"] <= big <= 0.4, (x["id"], big)


def test_the_benign_size_release_is_small_and_unlabelled(real28: Path) -> None:
    m = orjson.loads((real28 / "manifest.json").read_bytes())
    control = [b for b in m["benign"] if b["kind"] == "size_growth_release"]
    assert len(control) == 1
    b = control[0]
    method, route = b["description"].split(":")[0].split(" ", 1)
    version = b["description"].split("deploy ")[1].split(" ")[0]
    deploys = jsonl(real28 / "deployments.jsonl")
    at = next(ts(d["timestamp"]) for d in deploys
              if d["service.name"] == b["service"] and d["service.version"] == version)
    evs = _events(real28, b["service"])
    s0 = _sizes(_on(evs, method, route, at - 3 * 3600, at))
    s1 = _sizes(_on(evs, method, route, at + 120, at + 3 * 3600))
    assert 1.0 < statistics.median(s1) / statistics.median(s0) < 1.2
    for x in jsonl(real28 / "labels.jsonl"):  # nothing labelled on it while it is watched
        if x["service"] == b["service"] and x["route"] == route:
            assert ts(x["start"]) >= at + 3 * 3600 or ts(x["end"]) <= at
