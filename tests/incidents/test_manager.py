"""Incident lifecycle: open, update, resolve, reopen, grouping, ids."""

from __future__ import annotations

from detector.config import IncidentSettings
from detector.deployments.registry import DeploymentRegistry
from detector.detectors.base import Signal
from detector.events import DeploymentEvent
from detector.incidents.manager import IncidentManager, incident_id
from detector.incidents.model import Incident

W = 60.0


def _sig(
    t: float,
    kind: str = "error_surge",
    route: str = "/r",
    method: str = "GET",
    client: str | None = None,
    observed: float = 0.2,
) -> Signal:
    return Signal(
        kind=kind,
        service="pay",
        route=route,
        method=method,
        client=client,
        start=t,
        end=t + W,
        score=0.9,
        observed=observed,
        baseline=0.01,
        requests=100,
        p_value=1e-9,
        extra={"window_seconds": W},
        samples=[],
    )


def _run(
    windows: list[list[Signal]],
    settings: IncidentSettings | None = None,
    registry: DeploymentRegistry | None = None,
) -> list[Incident]:
    out: list[Incident] = []
    m = IncidentManager(
        settings or IncidentSettings(), registry or DeploymentRegistry(), out.append, W
    )
    for i, sigs in enumerate(windows):
        m.on_window(i * W, i * W + W, i * W + W + 30, sigs)
    return out


def test_open_then_resolve_after_quiet_windows() -> None:
    out = _run([[_sig(0)], [_sig(60)], [], [], [], [], [], []])
    assert [i.status for i in out] == ["open", "resolved"]
    assert out[0].id == out[1].id == incident_id(("pay", "error_surge", "/r", None), 0.0)
    assert out[1].end == "1970-01-01T00:02:00Z"


def test_methods_on_one_route_are_one_incident() -> None:
    out = _run([[_sig(0, method="GET"), _sig(0, method="POST")]])
    assert len(out) == 1 and out[0].method is None and out[0].evidence["requests"] == 200


def test_escalation_emits_update_and_quiet_repeats_do_not() -> None:
    out = _run([[_sig(0, observed=0.06)], [_sig(60, observed=0.06)], [_sig(120, observed=0.5)]])
    assert [(i.status, i.severity) for i in out] == [("open", "medium"), ("update", "critical")]


def test_signal_soon_after_resolution_reopens_the_same_incident() -> None:
    s = IncidentSettings(resolve_after_windows=2, reopen_within_seconds=600)
    out = _run([[_sig(0)], [], [], [_sig(180)]], s)
    assert [i.status for i in out] == ["open", "resolved", "update"]
    assert len({i.id for i in out}) == 1


def test_signal_long_after_resolution_opens_a_new_incident() -> None:
    s = IncidentSettings(resolve_after_windows=1, reopen_within_seconds=60)
    out = _run([[_sig(0)], [], [], [], [_sig(240)]], s)
    assert [i.status for i in out] == ["open", "resolved", "open"]
    assert out[0].id != out[2].id


def test_client_keyed_incident_keeps_client_and_route() -> None:
    out = _run([[_sig(0, kind="auth_failure_burst", client="10.0.0.9", route="/login")]])
    assert out[0].client == "10.0.0.9" and out[0].route == "/login"


def test_deployment_attribution_suspect_only_when_absent_before() -> None:
    reg = DeploymentRegistry()
    reg.add(DeploymentEvent(100.0, "pay", "2.0.0"))
    # The signal starts in the window that contains the deploy: suspect.
    out = _run([[], [_sig(60)]], registry=reg)
    assert out[0].deployment is not None and out[0].deployment.suspect
    assert out[0].deployment.version == "2.0.0"
    # Anomalous right up to the deploy: the deploy is not the suspect.
    reg2 = DeploymentRegistry()
    reg2.add(DeploymentEvent(125.0, "pay", "2.0.0"))
    s = IncidentSettings(resolve_after_windows=1, reopen_within_seconds=0)
    out2 = _run([[_sig(0)], [_sig(60)], [], [_sig(180)]], s, reg2)
    second = [i for i in out2 if i.status == "open"][1]
    assert second.deployment is not None and second.deployment.version == "2.0.0"
    assert second.deployment.suspect is False


def test_no_deployment_known_gives_null() -> None:
    out = _run([[_sig(0)]])
    assert out[0].deployment is None and "after deploy" not in out[0].summary


def test_periodic_update_only_when_what_it_says_changed() -> None:
    s = IncidentSettings(update_every_seconds=60, resolve_after_windows=20)
    same = _run([[_sig(t * W, observed=0.2)] for t in range(6)], s)
    assert [i.status for i in same] == ["open"]  # ongoing, unchanged: no repeated line
    moved = _run([[_sig(0, observed=0.2)], [_sig(60, observed=0.2)], [_sig(120, observed=0.3)],
                  [_sig(180, observed=0.3)]], s)
    assert [i.status for i in moved] == ["open", "update"]
    assert "30.0%" in moved[1].summary and moved[1].summary != moved[0].summary


def test_no_two_consecutive_lines_of_an_incident_say_the_same() -> None:
    s = IncidentSettings(update_every_seconds=0, resolve_after_windows=3)
    obs = [0.2, 0.2, 0.25, 0.25, 0.25, 0.3, 0.3]
    out = _run([[_sig(i * W, observed=o)] for i, o in enumerate(obs)] + [[], [], []], s)
    said = [(i.status, i.severity, i.summary) for i in out]
    assert all(a != b for a, b in zip(said, said[1:], strict=False))
    assert [i.status for i in out] == ["open", "update", "update", "resolved"]


def test_resolved_line_carries_the_final_end_and_evidence() -> None:
    s = IncidentSettings(update_every_seconds=60, resolve_after_windows=2)
    out = _run([[_sig(t * W)] for t in range(4)] + [[], []], s)
    assert [i.status for i in out] == ["open", "resolved"]
    assert out[-1].end == "1970-01-01T00:04:00Z"


def test_summary_names_the_incidents_route_and_method() -> None:
    # A client-keyed incident keeps the route it was opened on; a later window where the
    # client's top route is another must not say that other route beside route=/a.
    s = IncidentSettings(update_every_seconds=0)
    out = _run([[_sig(0, kind="auth_failure_burst", client="9.9.9.9", route="/a",
                      observed=50)],
                [_sig(60, kind="auth_failure_burst", client="9.9.9.9", route="/b",
                      observed=150)]], s)
    assert [i.route for i in out] == ["/a", "/a"]
    assert all("/b" not in i.summary and "/a" in i.summary for i in out)


def test_a_second_method_clears_the_method_and_the_summary_follows() -> None:
    s = IncidentSettings(update_every_seconds=0)
    out = _run([[_sig(0, method="GET")], [_sig(60, method="POST", observed=0.5)]], s)
    assert (out[0].method, out[-1].method) == ("GET", None)
    assert out[0].summary.startswith("GET /r ")
    assert out[-1].summary.startswith("/r ") and "POST" not in out[-1].summary
