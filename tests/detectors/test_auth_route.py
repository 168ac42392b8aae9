"""The mirror of authorization_drift: a 401/403 surge right after a deploy is the deploy's
when the route's usual callers fail, not when failing attempts are added from outside."""

from __future__ import annotations

import random

from detector.config import DetectorSettings, IncidentSettings
from detector.deployments.registry import DeploymentRegistry
from detector.detectors.auth_failure_burst import auth_route_detector
from detector.detectors.base import SeriesKey, SeriesWindow, Signal
from detector.events import DeploymentEvent
from detector.incidents.manager import IncidentManager
from detector.incidents.model import Incident
from detector.windows.stats import COUNT, SAUTH, new_series_stats

KEY = SeriesKey("id", "GET", "/v1/users/me")
DEPLOY_W = 180
DEPLOY = DEPLOY_W * 60.0 + 15.0


def window(i: int, rng: random.Random, *, usual: float = 60.0, fail: float = 0.01,
           added: float = 0.0, added_fail: float = 0.9, deploy: float | None = None,
           ) -> SeriesWindow:
    """The route's usual callers (``usual`` a minute, ``fail`` of them refused), plus
    ``added`` attempts from elsewhere; the rest of the service sends ~600 a minute."""
    n0 = max(1, round(rng.gauss(usual, usual**0.5)))
    n1 = round(rng.gauss(added, added**0.5)) if added else 0
    k = sum(rng.random() < fail for _ in range(n0)) + sum(rng.random() < added_fail
                                                           for _ in range(n1))
    st = new_series_stats()
    st[COUNT], st[SAUTH] = n0 + n1, k
    svc = round(rng.gauss(600, 25)) + n0 + n1
    return SeriesWindow(KEY, i * 60.0, i * 60.0 + 60.0, st, 1.0, deploy, svc)


def first_signal(seed: int, **after: float) -> Signal | None:
    rng = random.Random(seed)
    det = auth_route_detector(DetectorSettings())
    st = det.new_state()
    for i in range(DEPLOY_W + 40):
        dep = DEPLOY if i >= DEPLOY_W else None
        w = window(i, rng, deploy=dep, **(after if i > DEPLOY_W else {}))
        sig = det.check(st, w)
        det.learn(st, w, sig is not None)
        if sig is not None:
            return sig
    return None


def test_usual_callers_failing_after_a_deploy_is_deploy_related() -> None:
    for seed in range(3):
        sig = first_signal(seed, fail=0.4)
        assert sig is not None and sig.extra.get("deploy_related") is True


def test_credential_stuffing_after_a_deploy_is_not() -> None:
    for seed in range(3):
        sig = first_signal(10 + seed, added=120.0)  # 3x the route's volume, 90 % failing
        assert sig is not None and "deploy_related" not in sig.extra
        sig = first_signal(20 + seed, added=30.0)  # a smaller botnet, half the volume
        assert sig is not None and "deploy_related" not in sig.extra


def test_no_mark_without_a_recent_deploy() -> None:
    rng = random.Random(5)
    det = auth_route_detector(DetectorSettings())
    st = det.new_state()
    late = None
    for i in range(DEPLOY_W + 120):
        dep = DEPLOY if i >= DEPLOY_W else None
        w = window(i, rng, deploy=dep, fail=0.4 if i >= DEPLOY_W + 60 else 0.01)
        sig = det.check(st, w)
        det.learn(st, w, sig is not None)
        late = late or sig
    assert late is not None and "deploy_related" not in late.extra  # an hour after it


def _incident(sig: Signal) -> Incident:
    reg = DeploymentRegistry()
    reg.observe_version("id", "3.1.0", 0.0)
    reg.add(DeploymentEvent(DEPLOY, "id", "3.2.0"))
    out: list[Incident] = []
    m = IncidentManager(IncidentSettings(), reg, out.append, 60.0)
    m.on_window(sig.start, sig.end, sig.end + 30, [sig])
    return out[0]


def test_the_manager_suspects_the_deploy_only_for_a_related_surge() -> None:
    related = first_signal(1, fail=0.4)
    stuffed = first_signal(11, added=120.0)
    assert related is not None and stuffed is not None
    inc = _incident(related)
    assert inc.kind == "auth_failure_burst" and inc.deployment is not None
    assert inc.deployment.suspect is True and "after deploy 3.2.0" in inc.summary
    inc = _incident(stuffed)
    assert inc.deployment is not None and inc.deployment.suspect is False
