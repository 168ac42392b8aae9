"""Small, exact traffic for report tests: every count is known in advance."""

from __future__ import annotations

from collections.abc import Sequence

from detector.config import Settings
from detector.deployments.registry import DeploymentRegistry
from detector.events import AccessEvent, DeploymentEvent
from detector.pipeline import Pipeline
from detector.report.collect import ReportCollector

T0 = 1_773_964_800.0  # 2026-03-20T00:00:00Z, a window boundary


def traffic(minutes: int, per_minute: int = 10, service: str = "shop",
            err5_every: int = 10, duration: float = 0.05,
            version: str = "1.0") -> list[AccessEvent]:
    """``per_minute`` GET /items/{id} a minute; every ``err5_every``-th answers 500."""
    out = []
    for i in range(minutes * per_minute):
        status = 500 if i % err5_every == err5_every - 1 else 200
        out.append(AccessEvent(T0 + i * 60.0 / per_minute, service, version, "GET",
                               f"/items/{i % 97}", "", status, duration, 100,
                               f"10.0.0.{i % 7}", "ua/1", None, None, "f", i + 1))
    return out


def replay(events: list[AccessEvent], collector: ReportCollector,
           deploys: Sequence[DeploymentEvent] = ()) -> Pipeline:
    """The events through a pipeline the collector observes (no request analysis)."""
    p = Pipeline(Settings(), [], registry=DeploymentRegistry(), wall_clock=None)
    for d in deploys:
        p.registry.add(d)
    p.observers.append(collector)
    p.process(events)
    p.finish()
    return p
