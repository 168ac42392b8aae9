"""A latency drift found hours after a deploy is attributed to that deploy, as suspect."""

from __future__ import annotations

from detector.config import IncidentSettings
from detector.deployments.registry import DeploymentRegistry
from detector.detectors.base import Signal
from detector.events import DeploymentEvent
from detector.incidents.manager import IncidentManager
from detector.incidents.model import Incident
from detector.incidents.timefmt import iso

W = 60.0
DEPLOY = 600.0


def _registry() -> DeploymentRegistry:
    reg = DeploymentRegistry()
    reg.observe_version("pay", "1.0", 0.0)
    reg.add(DeploymentEvent(DEPLOY, "pay", "1.1"))
    reg.add(DeploymentEvent(DEPLOY + 5400.0, "pay", "1.2"))  # an unrelated later deploy
    return reg


def _sig(t: float, extra: dict[str, object]) -> Signal:
    return Signal(kind="latency_regression", service="pay", route="/r", method="GET",
                  client=None, start=float(extra.get("change_start", t)), end=t + W, score=0.9,
                  observed=0.5, baseline=0.2, requests=40, p_value=1e-7,
                  extra={"window_seconds": W, **extra}, samples=[])


def _open(sig: Signal, at: float) -> Incident:
    out: list[Incident] = []
    m = IncidentManager(IncidentSettings(), _registry(), out.append, W)
    m.on_window(at, at + W, at + W + 30, [sig])
    return out[0]


def test_a_drift_names_the_deploy_it_began_with_hours_later() -> None:
    at = DEPLOY + 2.5 * 3600.0  # past the 30 min suspect window, after a later deploy
    inc = _open(_sig(at, {"drift_since": DEPLOY, "change_start": DEPLOY + 900.0}), at)
    assert inc.deployment is not None
    assert (inc.deployment.version, inc.deployment.suspect) == ("1.1", True)
    assert inc.start == iso(DEPLOY + 900.0)  # the incident spans the drift
    assert inc.deployment.seconds_since_deploy == 900
    assert "after deploy 1.1" in inc.summary


def test_the_same_late_signal_without_a_drift_is_not_blamed_on_a_deploy() -> None:
    at = DEPLOY + 2.5 * 3600.0
    inc = _open(_sig(at, {}), at)
    assert inc.deployment is not None
    assert (inc.deployment.version, inc.deployment.suspect) == ("1.2", False)
    assert inc.start == iso(at)
