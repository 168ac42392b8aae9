"""The pipeline end to end on in-memory events: windows, watermark, incidents, deploys."""

from __future__ import annotations

from detector.config import Settings
from detector.events import AccessEvent, BadRecord, DeploymentEvent
from detector.incidents.model import Incident
from detector.pipeline import Pipeline
from detector.sinks import MemorySink
from tests.pipeline.synthetic import DEPLOY_AT, T0, _bad_deploy_status, traffic


def _run(
    events: list[AccessEvent | DeploymentEvent | BadRecord], settings: Settings | None = None
) -> tuple[Pipeline, list[Incident]]:
    sink = MemorySink()
    p = Pipeline(settings or Settings(), [sink])
    p.process(events)
    p.finish()
    return p, sink.items


def test_error_surge_after_deploy_is_attributed_to_the_new_version() -> None:
    events = traffic(
        150,
        rate=8,
        status=_bad_deploy_status,
        version=lambda t: "2.32.0" if t >= DEPLOY_AT else "2.31.0",
    )
    p, incs = _run(list(events))
    opened = [i for i in incs if i.status == "open"]
    assert [i.kind for i in opened] == ["error_surge"]
    inc = opened[0]
    assert inc.route == "/v2/payments/{id}/refunds" and inc.method == "POST"
    assert inc.deployment is not None
    assert inc.deployment.version == "2.32.0"
    assert inc.deployment.previous_version == "2.31.0"
    assert inc.deployment.suspect is True
    assert inc.deployment.seconds_since_deploy <= 120
    assert "after deploy 2.32.0" in inc.summary
    assert any("-> 503" in s for s in inc.evidence["samples"])
    # The surge ends at +20 min: the incident resolves, with the same id.
    resolved = [i for i in incs if i.status == "resolved"]
    assert [i.id for i in resolved] == [inc.id]
    assert p.summary.events == len(events)


def test_explicit_deployment_event_wins_over_inference() -> None:
    events: list[AccessEvent | DeploymentEvent | BadRecord] = list(
        traffic(
            150,
            rate=8,
            status=_bad_deploy_status,
            version=lambda t: "2.32.0" if t >= DEPLOY_AT else "2.31.0",
        )
    )
    dep = DeploymentEvent(T0 + DEPLOY_AT - 20, "pay", "2.32.0", "prod", "9f1c2ab")
    events.insert(0, dep)
    p, incs = _run(events)
    inc = next(i for i in incs if i.status == "open")
    assert inc.deployment is not None and inc.deployment.deployed_at.endswith("Z")
    assert p.registry.latest("pay", T0 + DEPLOY_AT + 1) == p.registry.all("pay")[0]
    assert p.registry.all("pay")[0].explicit and len(p.registry.all("pay")) == 1


def test_same_input_same_incident_ids() -> None:
    events = traffic(150, rate=8, status=_bad_deploy_status)
    _, a = _run(list(events))
    _, b = _run(list(events))
    assert [(i.id, i.status) for i in a] == [(i.id, i.status) for i in b] and a


def test_unrelated_anomaly_is_not_suspect_when_no_recent_deploy() -> None:
    events = traffic(
        150,
        rate=8,
        status=_bad_deploy_status,
        version=lambda t: "2.31.0" if t < 10 * 60 else "2.31.1",
    )
    _, incs = _run(list(events))
    inc = next(i for i in incs if i.status == "open")
    assert inc.deployment is not None and inc.deployment.version == "2.31.1"
    assert inc.deployment.suspect is False  # 80 minutes before: outside the suspect window


def test_flatline_raises_traffic_drop_and_partial_edges_do_not() -> None:
    def rate(t: float) -> float:
        return 0.0 if 100 * 60 <= t < 115 * 60 else 6.0

    _, incs = _run(list(traffic(150, rate_at=rate)))
    kinds = [i.kind for i in incs if i.status == "open"]
    assert kinds == ["traffic_drop"]
    # And a plain run (partial first and last windows) raises nothing.
    _, quiet = _run(list(traffic(150, rate=6, seed=5)))
    assert quiet == []


def test_late_events_are_counted_not_lost() -> None:
    events = traffic(40, rate=5)
    late = events[100]._replace(ts=events[-1].ts - 600)  # ten minutes behind the watermark
    p, _ = _run(list(events) + [late])
    assert p.summary.late == 1 and p.summary.events == len(events)


def test_bad_records_are_counted_with_reasons() -> None:
    seen: list[BadRecord] = []
    p = Pipeline(Settings(), [MemorySink()], dead_letter=seen.append)
    p.process([BadRecord("f", 3, "invalid JSON: x", b"{"), *traffic(2, rate=1)])
    p.finish()
    assert p.summary.bad == 1 and seen[0].offset == 3
    assert p.summary.bad_reasons["invalid JSON"] == 1


def test_future_timestamps_are_rejected_not_windowed() -> None:
    ev = traffic(1, rate=1)[0]
    p = Pipeline(Settings(), [MemorySink()], wall_clock=lambda: T0)
    p.process([ev._replace(ts=T0 + 10 * 86400), ev])
    p.finish()
    assert p.summary.bad == 1 and p.summary.events == 1


def test_advance_closes_the_windows_of_a_source_gone_silent() -> None:
    # 100 minutes of steady traffic, then nothing: without another event the
    # open windows never close; a heartbeat (advance) closes them, and the
    # silence is seen as a drop, like a run of empty windows.
    events = traffic(100, rate=6)
    sink = MemorySink()
    p = Pipeline(Settings(), [sink], wall_clock=lambda: T0 + 100 * 60)
    p.process(events)
    assert [i.kind for i in sink.items] == []
    closed = p.summary.windows_closed
    assert p.advance(events[-1].ts - 5) == 0  # not ahead of event time: nothing moves
    assert p.advance(T0 + 102 * 60) >= 1  # the open windows close
    assert p.advance(T0 + 108 * 60) >= 5  # then the empty ones, heartbeat by heartbeat
    assert p.advance(T0 + 115 * 60) >= 6
    assert p.summary.windows_closed > closed
    assert "traffic_drop" in [i.kind for i in sink.items if i.status == "open"]
    # Events before the advanced watermark are now late, as after any event.
    p.process([events[-1]._replace(ts=T0 + 101 * 60)])
    assert p.summary.late == 1


def test_advance_refuses_a_time_far_beyond_the_wall_clock() -> None:
    p = Pipeline(Settings(), [MemorySink()], wall_clock=lambda: T0)
    p.process(traffic(5, rate=2))
    assert p.advance(T0 + 3 * 86400) == 0


def test_future_limit_follows_the_wall_clock_of_a_long_run() -> None:
    now = [T0]
    bad: list[BadRecord] = []
    p = Pipeline(Settings(), [MemorySink()], wall_clock=lambda: now[0], dead_letter=bad.append)
    day = traffic(2, rate=2)
    p.process(day)
    far = day[-1]._replace(ts=T0 + 2 * 86400)
    p.process([far])  # two days ahead of the clock: absurd
    assert [r.reason for r in bad] == ["timestamp in the future"]
    now[0] = T0 + 2 * 86400  # the service has been up for two days
    p.process([far])
    assert len(bad) == 1 and p.max_ts == far.ts
