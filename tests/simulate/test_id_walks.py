"""object_enumeration release cases: id walks are in the logs as their labels say."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.simulate.logs import Req, jsonl, read_requests, route_regex, ts

pytestmark = pytest.mark.slow


def _walks(run: Path, shape: str) -> list[Any]:
    found = [x for x in jsonl(run / "labels.jsonl") if x["params"]["shape"] == shape]
    assert found, f"no {shape} label in the run"
    assert all(x["kind"] == "object_enumeration" for x in found)
    return found


def _walked(run: Path, x: Any) -> list[Req]:
    """The label's requests: on its route, in its span, ids in its walked range."""
    rx = route_regex(x["route"])
    lo, hi = x["params"]["id_low"], x["params"]["id_high"]
    out = []
    for r in read_requests(run, x["service"]):
        if r.method != x["method"] or not ts(x["start"]) <= r.ts < ts(x["end"]) + 1:
            continue
        if not rx.match(r.path):
            continue
        m = re.search(r"/(\d+)(?:/|$)", r.path)
        if m and lo <= int(m.group(1)) <= hi:
            out.append(r)
    return out


def test_id_walk_is_one_client_reading_distinct_ids_mostly_200(real28: Path) -> None:
    paces = set()
    for x in _walks(real28, "id_walk"):
        assert x["client"] and x["route"] and "{id}" in x["route"]
        paces.add(x["params"]["pace"])
        reqs = [r for r in _walked(real28, x) if r.client == x["client"]]
        assert len(reqs) >= 0.9 * x["params"]["requests"]
        assert len({r.path for r in reqs}) >= 0.95 * len(reqs)  # every request a new id
        missing = sum(r.status == 404 for r in reqs) / len(reqs)
        assert 0.01 <= missing <= 0.25 and sum(r.status == 200 for r in reqs) >= 0.7 * len(reqs)
        minutes = (ts(x["end"]) - ts(x["start"])) / 60
        assert (10 <= minutes <= 20) if x["params"]["pace"] == "fast" else (60 <= minutes <= 90)
    assert paces and paces <= {"fast", "slow"}  # a 28 h run plans a few walks: one pace or both


def test_distributed_walk_is_a_few_clients_sharing_one_dense_range(real28: Path) -> None:
    for x in _walks(real28, "distributed_walk"):
        assert x["client"] is None and x["route"]
        who = x["params"]["participants"]
        assert 3 <= len(who) <= 8
        reqs = [r for r in _walked(real28, x) if r.client in who]
        assert {r.client for r in reqs} == set(who)
        per = [sum(r.client == c for r in reqs) for c in who]
        assert max(per) - min(per) <= 2  # turns: each takes the next id
        ids = {int(m.group(1)) for r in reqs if (m := re.search(r"/(\d+)(?:/|$)", r.path))}
        assert len(ids) >= 0.6 * (max(ids) - min(ids) + 1)  # dense together
