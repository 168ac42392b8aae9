"""authorization_drift end to end, from in-memory events: a deploy that lets other accounts'
statements through, and the two deploys that look alike without loosening anything."""

from __future__ import annotations

import numpy as np

from detector.config import Settings
from detector.events import AccessEvent, DeploymentEvent
from detector.incidents.model import Incident
from detector.pipeline import Pipeline
from detector.sinks import MemorySink
from tests.pipeline.synthetic import T0

MINUTES = 330
DEPLOY_MIN = 240
STATEMENTS = "/v1/accounts/{id}/statements"


def _events(after: str, seed: int = 0) -> list[AccessEvent | DeploymentEvent]:
    """A bank: GET /v1/accounts/{id} (3 req/s) and its statements (1 req/s, one in five
    asking for another account's and refused 403). ``after`` the deploy: "answered"
    (the refused now get 200), "gone" (those callers stop), "same" (only 5 % slower)."""
    rng = np.random.default_rng(seed)
    out: list[AccessEvent | DeploymentEvent] = []
    deploy = T0 + DEPLOY_MIN * 60.0
    for route, rate, denied in (("/v1/accounts/{}", 3.0, 0.0), (STATEMENTS, 1.0, 0.2)):
        n = int(rng.poisson(rate * MINUTES * 60))
        for k, t in enumerate(np.sort(T0 + rng.random(n) * MINUTES * 60.0)):
            t = float(t)
            other = rng.random() < denied
            late = t >= deploy + 30.0
            if other and late and after == "gone":
                continue
            status = 403 if other and not (late and after == "answered") else 200
            slow = 1.05 if late and after == "same" else 1.0
            client = f"10.{7 if other else 1}.{rng.integers(0, 40)}.{rng.integers(1, 250)}"
            path = route.replace("{id}", str(rng.integers(10**5, 10**7))).format(
                rng.integers(10**5, 10**7))
            out.append(AccessEvent(t, "bank", None, "GET", path, "", status,
                                   0.04 * slow * float(rng.lognormal(0, 0.2)),
                                   900 if status == 200 else 80, client, "app/2.0", None, None,
                                   "t.log", k))
    out.append(DeploymentEvent(deploy, "bank", "7.1.0"))
    out.sort(key=lambda e: e.ts)
    return out


def _opened(after: str) -> list[Incident]:
    sink = MemorySink()
    p = Pipeline(Settings(), [sink])
    p.process(_events(after))
    p.finish()
    return [i for i in sink.items if i.status == "open"]


def test_statements_of_other_accounts_answered_after_a_deploy() -> None:
    found = [i for i in _opened("answered") if i.kind == "authorization_drift"]
    assert len(found) == 1
    inc = found[0]
    assert (inc.route, inc.method) == (STATEMENTS, "GET")
    assert inc.deployment is not None and inc.deployment.version == "7.1.0"
    assert inc.deployment.suspect
    assert inc.evidence["status"] == 403 and inc.evidence["share_before"] > 0.15
    assert "403 rate 0.0% after deploy (was" in inc.summary and "successes up" in inc.summary
    assert inc.severity == "critical"


def test_a_deploy_that_removes_the_denied_callers_is_no_drift() -> None:
    assert [i for i in _opened("gone") if i.kind == "authorization_drift"] == []


def test_a_deploy_with_a_5_percent_latency_change_raises_nothing_new() -> None:
    kinds = {i.kind for i in _opened("same")}
    assert not kinds & {"authorization_drift", "data_exposure", "object_enumeration"}
