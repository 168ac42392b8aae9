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
