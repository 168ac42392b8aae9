"""data_exposure end to end: events in, incidents out (in-memory source and sink)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from detector.config import Settings
from detector.events import AccessEvent, DeploymentEvent
from detector.incidents.model import Incident
from detector.pipeline import Pipeline
from detector.sinks import MemorySink
from tests.pipeline.synthetic import T0

DEPLOY_AT = 150 * 60.0  # after two and a half hours of the previous version
Sizes = Callable[[float, np.random.Generator], float]  # seconds since T0 -> bytes
Rate = Callable[[float], float]  # seconds since T0 -> requests per second


def usual(_t: float, rng: np.random.Generator) -> float:
    return 1200.0 * float(rng.lognormal(0.0, 0.4))


def users(minutes: int, *, sizes: Sizes = usual, rate: Rate = lambda _t: 2.0,
          latency: Callable[[float], float] = lambda _t: 0.04, seed: int = 0,
          version: Callable[[float], str | None] = lambda _t: None) -> list[AccessEvent]:
    """GET /v1/users/{id} answered 200, with a few 404s, sizes and latency as given."""
    rng = np.random.default_rng(seed)
    out: list[AccessEvent] = []
    t, i = 0.0, 0
    while True:
        t += float(rng.exponential(1.0 / rate(t)))
        if t >= minutes * 60.0:
            return out
        i += 1
        ok = rng.random() >= 0.02
        out.append(AccessEvent(
            T0 + t, "users", version(t), "GET", f"/v1/users/{rng.integers(1, 10**6)}", "",
            200 if ok else 404, latency(t) * float(rng.lognormal(0, 0.3)),
            int(sizes(t, rng)) if ok else 90, f"10.1.{rng.integers(0, 40)}.{rng.integers(1, 250)}",
            "app/2.3", None, None, "users.log", i))


def opened(events: list[AccessEvent], deploy: bool = True) -> list[Incident]:
    items: list[AccessEvent | DeploymentEvent] = list(events)
    if deploy:
        items.append(DeploymentEvent(T0 + DEPLOY_AT, "users", "2.0.0"))
    items.sort(key=lambda e: e.ts)
    sink = MemorySink()
    p = Pipeline(Settings(), [sink])
    p.process(items)
    p.finish()
    return [i for i in sink.items if i.status == "open"]


def grown(factor: float) -> Sizes:
    return lambda t, rng: usual(t, rng) * (factor if t >= DEPLOY_AT else 1.0)


def test_a_deploy_that_serialises_more_is_one_incident_naming_it() -> None:
    found = [i for i in opened(users(240, sizes=grown(7.5))) if i.kind == "data_exposure"]
    assert len(found) == 1
    inc = found[0]
    assert inc.route == "/v1/users/{id}" and inc.method == "GET"
    assert inc.deployment is not None and inc.deployment.version == "2.0.0"
    assert inc.deployment.suspect
    assert inc.summary.startswith("GET /v1/users/{id} response size median ")
    assert "(was 1." in inc.summary and inc.summary.endswith("after deploy 2.0.0")
    assert inc.evidence["median_ratio"] > 5 and inc.evidence["answers_after"] >= 30
    assert inc.severity == "high"


def test_a_version_seen_first_on_the_events_is_the_deploy() -> None:
    events = users(240, sizes=grown(4.0),
                   version=lambda t: "1.9.0" if t < DEPLOY_AT else "2.0.0")
    found = [i for i in opened(events, deploy=False) if i.kind == "data_exposure"]
    assert len(found) == 1 and found[0].deployment is not None
    assert found[0].deployment.version == "2.0.0"


def test_the_same_jump_without_any_deploy_is_not_exposure() -> None:
    kinds = {i.kind for i in opened(users(240, sizes=grown(7.5)), deploy=False)}
    assert "data_exposure" not in kinds


def test_a_deploy_five_percent_slower_is_no_incident_of_the_new_kinds() -> None:
    slower = users(300, latency=lambda t: 0.04 * (1.05 if t >= DEPLOY_AT else 1.0), seed=1)
    kinds = {i.kind for i in opened(slower)}
    assert not kinds & {"data_exposure", "authorization_drift", "object_enumeration"}


def test_a_marketing_ramp_around_a_deploy_is_no_exposure() -> None:
    # +60 % over half an hour, an hour on top, down again; the deploy lands on the ramp.
    def ramp(t: float) -> float:
        m = (t - DEPLOY_AT + 20 * 60.0) / 60.0
        return 2.0 * (1.0 + 0.6 * max(0.0, min(1.0, m / 30.0, (120.0 - m) / 30.0)))
    kinds = {i.kind for i in opened(users(300, rate=ramp, sizes=grown(1.08), seed=2))}
    assert not kinds & {"data_exposure", "authorization_drift", "object_enumeration"}


def test_a_deploy_on_a_route_with_a_daily_mix_of_small_and_large_answers_is_quiet() -> None:
    # Lists (~15 KB) from 10 % of answers to 40 % over the watched hours; the deploy
    # changes nothing.
    def mixed(t: float, rng: np.random.Generator) -> float:
        lists = 0.1 + 0.3 * math.sin(min(1.0, t / (6 * 3600.0)) * math.pi / 2)
        return (15000.0 if rng.random() < lists else 1200.0) * float(rng.lognormal(0.0, 0.4))
    kinds = {i.kind for i in opened(users(330, sizes=mixed, seed=3))}
    assert "data_exposure" not in kinds
