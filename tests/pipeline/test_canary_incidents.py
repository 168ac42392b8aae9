"""A canary failing on its own requests, interleaved with the old version: one scoped incident."""

from __future__ import annotations

import random
import re

from detector.config import Settings
from detector.events import AccessEvent
from detector.incidents.model import Incident
from detector.pipeline import Pipeline
from detector.sinks import MemorySink
from tests.pipeline.synthetic import T0, traffic

OLD, NEW = "2.40.2", "2.41.0"
CANARY = (90 * 60.0, 135 * 60.0)  # 45 min at 10 % of the traffic, then rolled back


def _canary_events(fail: float, seed: int = 7) -> list[AccessEvent]:
    pick = random.Random(seed)

    def version(t: float) -> str:
        return NEW if CANARY[0] <= t < CANARY[1] and pick.random() < 0.1 else OLD

    events = traffic(160, rate=6, seed=seed, version=version,
                     status=lambda t, r: 500 if r.random() < 0.003 else 200)
    fails = random.Random(seed + 1)
    return [e._replace(status=503) if e.version == NEW and fails.random() < fail else e
            for e in events]


def _run(events: list[AccessEvent]) -> list[Incident]:
    sink = MemorySink()
    p = Pipeline(Settings(), [sink])
    p.process(list(events))
    p.finish()
    return sink.items


def test_canary_errors_give_one_incident_with_the_version() -> None:
    events = _canary_events(0.10)
    new = [e for e in events if e.version == NEW]
    share = len(new) / sum(CANARY[0] <= e.ts - T0 < CANARY[1] for e in events)
    assert 0.07 < share < 0.13
    incs = _run(events)
    opened = [i for i in incs if i.status == "open"]
    assert [(i.kind, i.route) for i in opened] == [("error_surge", "/v2/payments/{id}/refunds")]
    last = [i for i in incs if i.id == opened[0].id][-1]
    assert last.version == NEW
    assert re.search(rf"5xx \d+\.\d % on {NEW} \(canary, (9|10|11) % of traffic\) "
                     rf"vs 0\.\d % on {OLD}", last.summary), last.summary
    assert last.deployment is not None and last.deployment.version == NEW


def test_clean_canary_raises_nothing() -> None:
    assert [i for i in _run(_canary_events(0.0)) if i.status == "open"] == []
