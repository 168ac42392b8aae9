"""Authorization release cases (issue 12) in the logs: denials that turn into successes at
a labelled deploy, and a benign deploy after which the denied callers simply stop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from detector.simulate import simulate
from detector.simulate.deploys import ROLLOUT_S
from tests.conftest import once_per_run
from tests.simulate.logs import Req, jsonl, read_requests, route_regex, ts

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def real10(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 h with the real-world cases forced on (``shapes``), busy enough for them."""
    def make(out: Path) -> Path:
        simulate(out, hours=10, rate=0.2, seed=5, shapes=True)
        return out

    return once_per_run(tmp_path_factory, "authz10", make)


def _route(reqs: list[Req], method: str, template: str, lo: float, hi: float) -> list[Req]:
    rx = route_regex(template)
    return [r for r in reqs if r.method == method and lo <= r.ts < hi and rx.match(r.path)]


def _labels(run: Path) -> list[Any]:
    return [x for x in jsonl(run / "labels.jsonl") if x["kind"] == "authorization_drift"]


def test_both_shapes_are_labelled_at_their_deploy(real10: Path) -> None:
    labels = _labels(real10)
    assert {x["params"]["shape"] for x in labels} == {"auth_loosened", "anon_allowed"}
    published: dict[tuple[str, str], set[float]] = {}
    for d in jsonl(real10 / "deployments.jsonl"):  # a rollback may bring a version back
        published.setdefault((d["service.name"], d["service.version"]), set()).add(
            ts(d["timestamp"]))
    for x in labels:
        assert x["route"] and x["method"] == "GET" and x["client"] is None
        assert x["params"]["status"] == (403 if x["params"]["shape"] == "auth_loosened"
                                         else 401)
        at = published.get((x["service"], x["deployment"]))
        assert at is None or ts(x["start"]) in at  # the silent service only shows versions
    assert len({(x["service"], x["route"]) for x in labels}) == len(labels)


def test_denials_before_the_deploy_turn_into_successes_after_it(real10: Path) -> None:
    m = orjson.loads((real10 / "manifest.json").read_bytes())
    t0 = ts(m["start"])
    for x in _labels(real10):
        reqs = read_requests(real10, x["service"])
        code, dep = x["params"]["status"], ts(x["start"])
        before = _route(reqs, x["method"], x["route"], t0, dep)
        after = _route(reqs, x["method"], x["route"], dep + ROLLOUT_S, dep + 7200)
        share = x["params"]["share"]
        denied_before = sum(r.status == code for r in before) / len(before)
        denied_after = sum(r.status == code for r in after) / len(after)
        assert denied_before > 0.7 * share and denied_after < 0.03, x["id"]
        ok_before = sum(200 <= r.status < 300 for r in before) / len(before)
        ok_after = sum(200 <= r.status < 300 for r in after) / len(after)
        assert ok_after > ok_before + 0.5 * share, x["id"]  # answered, not gone


def test_the_benign_control_loses_its_denied_callers(real10: Path) -> None:
    m = orjson.loads((real10 / "manifest.json").read_bytes())
    (b,) = [b for b in m["benign"] if b["kind"] == "denied_callers_stop"]
    method, template = b["description"].split(":")[0].split(" ", 1)
    assert (b["service"], template) not in {(x["service"], x["route"])
                                            for x in jsonl(real10 / "labels.jsonl")}
    reqs = read_requests(real10, b["service"])
    deploys = [ts(d["timestamp"]) for d in jsonl(real10 / "deployments.jsonl")
               if d["service.name"] == b["service"]]
    dep = ts(b["end"]) - 3 * 3600.0
    assert dep in deploys or not deploys
    before = _route(reqs, method, template, ts(m["start"]), dep)
    after = _route(reqs, method, template, dep + ROLLOUT_S, dep + 7200)
    old_build = {r.client for r in before if r.status == 403}
    assert sum(r.status == 403 for r in before) / len(before) > 0.08
    assert all(r.status != 403 for r in after)
    # The refused callers are gone: none of them calls the route after the deploy.
    assert len(old_build) >= 20 and not old_build & {r.client for r in after}
