"""authorization_drift: denials that turn into successes after a deploy, and only those."""

from __future__ import annotations

import random

from detector.config import DetectorSettings
from detector.detectors.authorization_drift import WATCH_S, AuthorizationDriftDetector
from detector.detectors.base import SeriesKey, SeriesWindow, Signal
from detector.windows.stats import COUNT, S401, SAUTH, new_series_stats

KEY = SeriesKey("bank", "GET", "/v1/accounts/{id}/statements")
DEPLOY_W = 240  # the deploy lands in window 240 (4 h of history before it)


def _binom(rng: random.Random, n: int, p: float) -> int:
    return sum(rng.random() < p for _ in range(n))


def window(i: int, rng: random.Random, *, rate: float, d401: float = 0.0, d403: float = 0.0,
           deploy: float | None = None, svc_rate: float = 1000.0) -> SeriesWindow:
    """One minute of the route: ``rate`` requests on average, shares denied 401 / 403;
    the whole service answers about ``svc_rate`` (this route's requests included)."""
    n = max(0, round(rng.gauss(rate, rate**0.5)))
    a = _binom(rng, n, d401)
    f = _binom(rng, n - a, d403 / max(1.0 - d401, 1e-9))
    st = new_series_stats()
    st[COUNT], st[SAUTH], st[S401] = n, a + f, a
    svc = round(rng.gauss(svc_rate, svc_rate**0.5)) + n
    return SeriesWindow(KEY, i * 60.0, i * 60.0 + 60.0, st, 1.0, deploy, svc)


def run(det: AuthorizationDriftDetector, wins: list[SeriesWindow]) -> list[tuple[int, Signal]]:
    state = det.new_state()
    out = []
    for k, w in enumerate(wins):
        sig = det.check(state, w)
        assert det.check(state, w) == sig  # pure
        det.learn(state, w, sig is not None)
        if sig is not None:
            out.append((k, sig))
    return out


def scenario(seed: int, *, rate: float, before: tuple[float, float],
             after: tuple[float, float], deploy: bool = True, vanish: bool = False,
             minutes_after: int = 180) -> list[SeriesWindow]:
    """4 h with ``before`` = (401 share, 403 share), then ``after``. ``vanish``: the
    requests no longer denied are gone instead of answered (the route loses them)."""
    rng = random.Random(seed)
    dep = DEPLOY_W * 60.0 + 20.0 if deploy else None
    wins = [window(i, rng, rate=rate, d401=before[0], d403=before[1]) for i in range(DEPLOY_W)]
    lost = (before[0] - after[0]) + (before[1] - after[1])
    for i in range(DEPLOY_W, DEPLOY_W + minutes_after):
        if vanish:
            r, scale = rate * (1.0 - lost), 1.0 / (1.0 - lost)
            wins.append(window(i, rng, rate=r, d401=after[0] * scale, d403=after[1] * scale,
                               deploy=dep))
        else:
            wins.append(window(i, rng, rate=rate, d401=after[0], d403=after[1], deploy=dep))
    return wins


DET = AuthorizationDriftDetector(DetectorSettings())


def test_converted_403s_fire_once_attributed_to_the_deploy() -> None:
    found = run(DET, scenario(1, rate=40, before=(0.0, 0.2), after=(0.0, 0.0)))
    assert len(found) == 1  # one incident per route per deploy
    k, sig = found[0]
    assert DEPLOY_W < k < DEPLOY_W + 30
    assert sig.kind == "authorization_drift" and sig.extra["status"] == 403
    assert sig.baseline > 0.15 and sig.observed == 0.0
    assert sig.extra["drift_since"] == DEPLOY_W * 60.0 + 20.0
    assert sig.extra["change_start"] >= sig.extra["drift_since"]
    assert 0.1 < sig.extra["successes_up"] < 0.5
    assert sig.p_value <= 1e-6


def test_converted_401s_fire_as_401_while_403s_hold() -> None:
    found = run(DET, scenario(2, rate=40, before=(0.12, 0.05), after=(0.0, 0.05)))
    assert len(found) == 1
    assert found[0][1].extra["status"] == 401
    assert found[0][1].extra["denials_403_after"] > 0


def test_vanished_denials_do_not_fire() -> None:
    """The denied clients stop calling (the deploy removed their integration)."""
    for seed in range(3):
        assert run(DET, scenario(10 + seed, rate=40, before=(0.0, 0.2), after=(0.0, 0.0),
                                 vanish=True)) == []
        assert run(DET, scenario(20 + seed, rate=40, before=(0.15, 0.0), after=(0.0, 0.0),
                                 vanish=True)) == []


def test_the_next_deploy_after_a_loosened_one_does_not_fire_again() -> None:
    """Two hours after the loosening deploy a routine one: its reference (hours long)
    still remembers the denials, but the version it replaces had none."""
    for seed in range(3):
        wins = scenario(40 + seed, rate=40, before=(0.0, 0.2), after=(0.0, 0.0),
                        minutes_after=120)
        rng = random.Random(50 + seed)
        dep2 = (DEPLOY_W + 120) * 60.0 + 30.0
        wins += [window(i, rng, rate=40, deploy=dep2)
                 for i in range(DEPLOY_W + 120, DEPLOY_W + 300)]
        found = run(DET, wins)
        assert [k < DEPLOY_W + 120 for k, _ in found] == [True]


def _flooded(wins: list[SeriesWindow], lo: int, hi: int) -> list[SeriesWindow]:
    """Credential stuffing on another route of the service: 6x its volume in [lo, hi)."""
    return [w._replace(service_requests=w.service_requests * 6) if lo <= k < hi else w
            for k, w in enumerate(wins)]


def test_a_flood_elsewhere_in_the_service_does_not_fake_a_conversion() -> None:
    """Stuffing on the login route just before the deploy: the service's volume in the
    reference is inflated, which would make the route's successes look risen after it."""
    for seed in range(3):
        wins = scenario(60 + seed, rate=40, before=(0.0, 0.2), after=(0.0, 0.0), vanish=True)
        assert run(DET, _flooded(wins, DEPLOY_W - 40, DEPLOY_W)) == []


def test_a_flood_after_the_deploy_does_not_hide_a_conversion() -> None:
    wins = scenario(70, rate=40, before=(0.0, 0.2), after=(0.0, 0.0))
    assert len(run(DET, _flooded(wins, DEPLOY_W, DEPLOY_W + 40))) == 1


def test_a_dip_without_a_deploy_does_not_fire() -> None:
    assert run(DET, scenario(3, rate=40, before=(0.0, 0.2), after=(0.0, 0.0),
                             deploy=False)) == []


def test_a_deploy_that_keeps_the_denials_does_not_fire() -> None:
    """A harmless deploy (only latency moved, which this detector does not see)."""
    for seed in range(3):
        assert run(DET, scenario(30 + seed, rate=40, before=(0.02, 0.1),
                                 after=(0.02, 0.1))) == []


def test_a_route_with_few_denials_is_not_watched() -> None:
    # 1 % of 401s: a dozen users mistyping a password, not a permission check.
    assert run(DET, scenario(4, rate=40, before=(0.01, 0.0), after=(0.0, 0.0))) == []


def test_a_quiet_route_accumulates_windows_until_it_can_tell() -> None:
    found = run(DET, scenario(5, rate=6, before=(0.0, 0.2), after=(0.0, 0.0),
                              minutes_after=int(WATCH_S / 60)))
    assert len(found) == 1
    k, sig = found[0]
    assert k >= DEPLOY_W + 10  # one window's few requests say nothing
    assert sig.extra["requests_after"] >= 30


def test_too_late_after_the_deploy_is_not_judged() -> None:
    wins = scenario(6, rate=40, before=(0.0, 0.2), after=(0.0, 0.2))
    rng = random.Random(7)
    dep = DEPLOY_W * 60.0 + 20.0
    late = DEPLOY_W + int(WATCH_S / 60) + 10
    wins += [window(i, rng, rate=40, deploy=dep) for i in range(late, late + 60)]
    assert run(DET, wins) == []


def test_flagged_windows_stay_out_of_the_reference() -> None:
    """A credential-stuffing hour before the deploy (flagged by auth_failure_burst)
    must not make the previous version look like a route full of denials."""
    rng = random.Random(8)
    det = AuthorizationDriftDetector(DetectorSettings())
    state = det.new_state()
    for i in range(DEPLOY_W):
        stuffing = i >= DEPLOY_W - 60
        w = window(i, rng, rate=40, d401=0.6 if stuffing else 0.005)
        det.learn(state, w, stuffing)  # flagged by another detector of the series
    dep = DEPLOY_W * 60.0 + 20.0
    for i in range(DEPLOY_W, DEPLOY_W + 120):
        w = window(i, rng, rate=40, d401=0.005, deploy=dep)
        assert det.check(state, w) is None
        det.learn(state, w, False)
