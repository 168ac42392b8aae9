"""new_endpoint end to end: a low-volume internal route shipped by a deploy, and its look-alikes."""

from __future__ import annotations

from detector.config import Settings
from detector.events import AccessEvent, DeploymentEvent
from detector.incidents.model import Incident
from detector.pipeline import Pipeline
from detector.sinks import MemorySink
from tests.pipeline.synthetic import T0, traffic

DEPLOY_MIN = 95


def _ev(t: float, path: str, status: int, client: str) -> AccessEvent:
    return AccessEvent(T0 + t, "pay", None, "GET", path, "", status, 0.02, 10, client, "ua",
                       None, None, "t.log", 0)


def _internal(path: str, status: int = 200, start_min: float = DEPLOY_MIN + 3) -> list[AccessEvent]:
    """12 requests over 70 minutes from 3 clients."""
    return [_ev(start_min * 60 + i * 380.0, path, status, f"10.9.0.{i % 3}") for i in range(12)]


def _run(extra: list[AccessEvent], deploy: bool = True) -> list[Incident]:
    items: list[AccessEvent | DeploymentEvent] = [*traffic(200, rate=6), *extra]
    if deploy:
        items.append(DeploymentEvent(T0 + DEPLOY_MIN * 60, "pay", "3.1.0"))
    items.sort(key=lambda e: e.ts)
    sink = MemorySink()
    p = Pipeline(Settings(), [sink])
    p.process(items)
    p.finish()
    return [i for i in sink.items if i.status == "open"]


def test_internal_route_after_a_deploy_is_an_incident_with_the_deploy_suspect() -> None:
    opened = _run(_internal("/internal/reindex/run"))
    assert [(i.kind, i.route) for i in opened] == [("new_endpoint", "/internal/reindex/run")]
    inc = opened[0]
    assert inc.evidence["sensitive"] == "internal (segment 'internal')"
    assert inc.evidence["distinct_clients"] == 3
    assert inc.evidence["successful_requests"] == 3
    assert inc.deployment is not None and inc.deployment.version == "3.1.0"
    assert inc.deployment.suspect


def test_the_same_route_without_a_deploy_is_not_raised() -> None:
    assert _run(_internal("/internal/reindex/run"), deploy=False) == []


def test_an_ordinary_route_at_that_volume_is_not_raised() -> None:
    assert _run(_internal("/v2/disputes/summary")) == []


def test_scanners_probing_admin_after_a_deploy_are_not_an_endpoint() -> None:
    probes = _internal("/admin/.env", status=404) + _internal("/admin", status=403)
    assert [i.kind for i in _run(probes) if i.kind == "new_endpoint"] == []
