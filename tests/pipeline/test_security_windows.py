"""scanning and new_endpoint from the window stage, end to end on in-memory events."""

from __future__ import annotations

import numpy as np

from detector.config import Settings
from detector.events import AccessEvent, DeploymentEvent
from detector.incidents.model import Incident
from detector.pipeline import Pipeline
from detector.sinks import MemorySink
from tests.pipeline.synthetic import T0, traffic


def _ev(
    t: float, path: str, status: int, client: str = "10.0.0.1", method: str = "GET"
) -> AccessEvent:
    return AccessEvent(
        T0 + t,
        "pay",
        None,
        method,
        path,
        "",
        status,
        0.02,
        10,
        client,
        "ua",
        None,
        None,
        "t.log",
        0,
    )


def _run(extra: list[AccessEvent | DeploymentEvent], minutes: int = 150) -> list[Incident]:
    items: list[AccessEvent | DeploymentEvent] = [*traffic(minutes, rate=6), *extra]
    items.sort(key=lambda e: e.ts)
    sink = MemorySink()
    p = Pipeline(Settings(), [sink])
    p.process(items)
    p.finish()
    return [i for i in sink.items if i.status == "open"]


def test_fast_scanner_is_one_client_incident() -> None:
    probes = [
        _ev(100 * 60 + i * 0.5, f"/{w}", 404, client="6.6.6.6")
        for i, w in enumerate(f"admin{i}" for i in range(120))
    ]
    opened = _run(probes)
    assert [(i.kind, i.client) for i in opened] == [("scanning", "6.6.6.6")]
    assert opened[0].evidence["distinct_missing_paths"] >= 15


def test_low_and_slow_scanner_adds_up_over_windows() -> None:
    probes = [_ev(100 * 60 + i * 7.0, f"/.probe{i}", 404, client="7.7.7.7") for i in range(200)]
    opened = _run(probes)
    assert ("scanning", "7.7.7.7") in [(i.kind, i.client) for i in opened]


def test_a_few_broken_links_are_not_a_scan() -> None:
    links = [_ev(100 * 60 + i * 20.0, f"/old/{i % 4}", 404, client="8.8.8.8") for i in range(30)]
    assert _run(links) == []


def test_new_route_after_deploy_is_a_new_endpoint_attributed_to_it() -> None:
    dep = DeploymentEvent(T0 + 95 * 60, "pay", "3.0.0")
    rng = np.random.default_rng(0)
    new = [
        _ev(95 * 60 + 20 + i * 3.0, f"/v2/disputes/{rng.integers(1, 10**6)}", 200, method="POST")
        for i in range(400)
    ]
    opened = _run([dep, *new])
    assert [(i.kind, i.route, i.method) for i in opened] == [
        ("new_endpoint", "/v2/disputes/{id}", "POST")
    ]
    assert opened[0].deployment is not None and opened[0].deployment.version == "3.0.0"
    assert opened[0].deployment.suspect


def test_rare_old_route_and_failing_probes_are_not_new_endpoints() -> None:
    rare = [_ev(i * 600.0, "/v1/reports/yearly", 200) for i in range(15)]  # 1 per 10 min
    probes = [
        _ev(100 * 60 + i * 2.0, "/wp-login.php", 404, client=f"9.9.9.{i % 3}") for i in range(60)
    ]
    assert [i.kind for i in _run([*rare, *probes])] == []


def test_generalisation_of_known_routes_is_not_new() -> None:
    # 60 literal slugs early on, then a collapse makes /shop/{id}: not a new endpoint.
    early = [_ev(i * 30.0, f"/shop/slug-word-{i % 60}x", 200) for i in range(240)]
    late = [_ev(100 * 60 + i * 2.0, f"/shop/other-word-{i}y", 200) for i in range(300)]
    assert [i.kind for i in _run([*early, *late]) if i.kind == "new_endpoint"] == []
