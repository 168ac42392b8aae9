"""The judge on a small API: each effect fails on the right route and check; harmless
deploys pass; thin traffic is inconclusive, never a pass."""

from __future__ import annotations

import random
from typing import Any

import pytest

from detector.config import Settings
from detector.deployments.registry import DeploymentRegistry
from detector.events import AccessEvent, DeploymentEvent
from detector.jobs.verdict import VerdictInputError, judge_items
from detector.verdict.policy import CheckPolicy, Policy
from detector.verdict.record import canonical

from .synth import DEPLOY, gen


def judged(effect: str = "none", policy: Policy | None = None, registry: DeploymentRegistry |
           None = None, version: str = "1.1", **kw: Any) -> dict[str, Any]:
    rec, _ = judge_items(gen(effect, **kw), service="shop", version=version,
                         policy=policy or Policy(), settings=Settings(),
                         registry=registry or DeploymentRegistry(), analyzer=None)
    return rec


def failing(rec: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["check"], c["route"]) for c in rec["checks"] if c["result"] == "fail"}


@pytest.mark.parametrize(("effect", "check", "route"), [
    ("errors", "error_share", "POST /v1/orders"),
    ("latency", "latency_p95", "GET /v1/items/{id}"),
    ("size", "data_exposure", "GET /v1/items/{id}"),
    ("authz", "authorization_drift", "GET /v1/users/{id}"),
    ("debug", "new_endpoints", "GET /debug/vars"),
])
def test_a_regression_fails_naming_its_route_and_check(effect: str, check: str,
                                                       route: str) -> None:
    rec = judged(effect)
    assert rec["verdict"] == "fail"
    assert (check, route) in failing(rec)
    c = next(c for c in rec["checks"] if (c["check"], c["route"]) == (check, route))
    assert c["critical"] is True
    if check != "new_endpoints":  # a two-sample comparison: interval, MDE, p-value
        assert c["interval"] is not None and c["mde"] is not None and c["p_value"] < 1e-6
    assert rec["windows"]["mode"] == "previous"


@pytest.mark.parametrize("effect", ["none", "lat5", "feature"])
def test_harmless_deploys_pass(effect: str) -> None:
    rec = judged(effect)
    assert rec["verdict"] == "pass", failing(rec)
    assert rec["score"] >= 95
    if effect == "feature":  # an ordinary new endpoint is listed, not failed
        new = [c for c in rec["checks"] if c["check"] == "new_endpoints" and c["route"] != "*"]
        assert [c["route"] for c in new] == ["GET /v1/wishlist"]
        assert new[0]["result"] == "pass"


def test_a_canary_is_judged_against_the_old_version_beside_it() -> None:
    rec = judged("errors", canary=0.1)
    assert rec["windows"]["mode"] == "concurrent"
    assert rec["verdict"] == "fail"
    assert ("error_share", "POST /v1/orders") in failing(rec)
    # the same canary without the change passes
    assert judged("none", canary=0.1)["verdict"] == "pass"


def test_a_forced_previous_baseline_ignores_the_canary_split() -> None:
    rec = judged("none", canary=0.1, policy=Policy(baseline="previous"))
    assert rec["windows"]["mode"] == "previous"


def test_thin_traffic_is_inconclusive_with_the_traffic_needed() -> None:
    rec = judged("none", rate=5)
    assert rec["verdict"] == "inconclusive"
    assert rec["traffic"]["needed_requests"] > rec["traffic"]["candidate_requests"] * 2
    blind = [c for c in rec["checks"] if c["result"] == "inconclusive" and c["route"] == "*"]
    assert any(c["check"] == "error_share" and c["needed_requests"] for c in blind)


def test_thin_traffic_still_fails_on_an_overwhelming_regression() -> None:
    rec = judged("errors_big", rate=5)
    assert rec["verdict"] == "fail"
    assert ("error_share", "*") in failing(rec)


def test_a_failure_mode_absent_before_still_fails() -> None:
    rec = judged("errors", base_errors=0.0)
    c = next(c for c in rec["checks"] if (c["check"], c["route"]) ==
             ("error_share", "POST /v1/orders"))
    assert c["baseline"] == 0.0 and c["result"] == "fail"


def test_policy_routes_and_critical_checks() -> None:
    ignored = judged("errors", policy=Policy(ignore_routes=["POST /v1/orders"]))
    assert not any(c["route"] == "POST /v1/orders" for c in ignored["checks"])
    # error_share no longer critical: one failing check lowers the score; not a fail
    soft = judged("errors", policy=Policy(checks={"error_share": CheckPolicy(critical=False)}))
    assert soft["verdict"] in ("marginal", "pass") and soft["score"] < 100
    # a tolerance wider than the surge lets it pass
    wide = judged("errors", policy=Policy(checks={"error_share": CheckPolicy(tolerance=0.2)}))
    assert ("error_share", "POST /v1/orders") not in failing(wide)


def test_same_input_same_record() -> None:
    assert canonical(judged("errors")) == canonical(judged("errors"))


def test_an_explicit_deployment_event_sets_the_deploy_time() -> None:
    reg = DeploymentRegistry()
    reg.add(DeploymentEvent(DEPLOY - 600, "shop", "1.1"))  # announced 10 min earlier
    rec = judged("errors", registry=reg)
    assert rec["deployed_at"] == "2026-03-08T21:50:00Z"
    assert rec["windows"]["baseline"][1] == "2026-03-08T21:50:00Z"


def test_the_next_deploy_cuts_the_candidate_window() -> None:
    reg = DeploymentRegistry()
    reg.add(DeploymentEvent(DEPLOY + 900, "shop", "1.2"))
    rec = judged("errors", registry=reg)
    assert rec["windows"]["candidate"][1] == "2026-03-08T22:15:00Z"
    assert any("cut short" in n for n in rec["notes"])


def test_an_unknown_version_is_an_input_error() -> None:
    with pytest.raises(VerdictInputError, match="no deployment of shop 9.9"):
        judged("none", version="9.9")


def _daily_step(drop_after_deploy: bool) -> list[AccessEvent]:
    """25 h of one route whose traffic triples at 09:00 every day; 1.1 deployed at 09:00
    on the second day (its traffic cut by 70 % when ``drop_after_deploy``)."""
    rnd = random.Random(7)
    day0 = 1_773_014_400.0  # 2026-03-09T00:00:00Z
    deploy = day0 + 86400 + 9 * 3600
    evs: list[AccessEvent] = []
    t = day0 + 8 * 3600
    while t < deploy + 3600:
        hour = (t - day0) % 86400 / 3600
        rate = 120.0 if 9 <= hour < 12 else 40.0  # per minute
        t += rnd.expovariate(rate / 60)
        post = t >= deploy
        if post and drop_after_deploy and rnd.random() < 0.7:
            continue
        evs.append(AccessEvent(t, "shop", "1.1" if post else "1.0", "GET", "/v1/feed", "",
                               200, 0.02, 300, f"10.1.0.{rnd.randint(1, 200)}", "app/1.0",
                               None, None, "synth", len(evs) + 1))
    return evs


def _rate_check(rec: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in rec["checks"] if (c["check"], c["route"]) == ("request_rate", "*"))


def test_the_request_rate_rides_the_daily_shape_of_the_day_before() -> None:
    rec, _ = judge_items(_daily_step(False), service="shop", version="1.1", policy=Policy(),
                         settings=Settings(), registry=DeploymentRegistry(), analyzer=None)
    rate = _rate_check(rec)
    assert rate["daily_growth"] == pytest.approx(3.0, rel=0.2)  # yesterday's 09:00 step
    assert rate["result"] == "pass"  # tripled traffic is the time of day, not the deploy
    dropped, _ = judge_items(_daily_step(True), service="shop", version="1.1",
                             policy=Policy(), settings=Settings(),
                             registry=DeploymentRegistry(), analyzer=None)
    assert _rate_check(dropped)["result"] == "fail"  # 0.9x where 3x was due
    assert dropped["verdict"] == "fail"


def test_deployments_before_the_traffic_seen_are_not_judged() -> None:
    # A restarted service reloads its deployment history: the releases before its first
    # window were judged before the restart (or never had traffic here), not again now.
    from detector.verdict.watch import ReleaseWatch

    reg = DeploymentRegistry()
    reg.add(DeploymentEvent(DEPLOY - 86400, "shop", "0.9"))
    records: list[dict[str, Any]] = []
    from detector.pipeline import Pipeline

    p = Pipeline(Settings(), [], registry=reg, wall_clock=None)
    p.observers.append(ReleaseWatch(lambda _s: Policy(), reg, records.append, analysis=False))
    p.process(gen("none"))
    p.finish()
    assert [r["version"] for r in records] == ["1.1"]
