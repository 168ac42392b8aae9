"""One contract, every window detector (STYLE.md: the river convention)."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from typing import Any

import pytest

from detector.config import DetectorSettings
from detector.detectors.auth_failure_burst import auth_route_detector
from detector.detectors.base import SeriesKey, SeriesWindow, WindowDetector
from detector.detectors.client_error_surge import client_error_surge_detector
from detector.detectors.error_surge import error_surge_detector
from detector.detectors.latency_regression import LatencyRegressionDetector
from detector.detectors.traffic import TrafficDetector
from detector.windows.stats import (
    BOUNDS,
    COUNT,
    HIST,
    S4XX,
    S5XX,
    SAUTH,
    TIMED,
    bisect_bounds,
    new_series_stats,
)

S = DetectorSettings(warmup_windows=20)
KEY = SeriesKey("svc", "GET", "/r/{id}")


def _window(
    i: int,
    n: int,
    *,
    s5xx: int = 0,
    s4xx: int = 0,
    sauth: int = 0,
    lat: float = 0.05,
    rng: random.Random,
) -> SeriesWindow:
    st = new_series_stats()
    st[COUNT] = n
    st[S5XX], st[S4XX], st[SAUTH] = s5xx, s4xx, sauth
    st[TIMED] = n
    for _ in range(n):
        st[HIST][bisect_bounds(lat * rng.lognormvariate(0, 0.3))] += 1
    return SeriesWindow(KEY, i * 60.0, i * 60.0 + 60.0, st, 1.0)


def _normal(i: int, rng: random.Random) -> SeriesWindow:
    n = max(0, int(rng.gauss(200, 14)))
    return _window(
        i, n, s5xx=int(rng.random() < 0.5), s4xx=rng.randint(0, 3), sauth=rng.randint(0, 4), rng=rng
    )


# Each case: the detector, and a window that must be flagged after warm-up.
CASES: dict[
    str, tuple[Callable[[], WindowDetector], Callable[[int, random.Random], SeriesWindow]]
] = {
    "traffic_spike": (lambda: TrafficDetector(S), lambda i, r: _window(i, 1500, rng=r)),
    "traffic_drop": (lambda: TrafficDetector(S), lambda i, r: _window(i, 3, rng=r)),
    "error_surge": (lambda: error_surge_detector(S), lambda i, r: _window(i, 200, s5xx=40, rng=r)),
    "client_error_surge": (
        lambda: client_error_surge_detector(S),
        lambda i, r: _window(i, 200, s4xx=70, rng=r),
    ),
    "latency_regression": (
        lambda: LatencyRegressionDetector(S),
        lambda i, r: _window(i, 200, lat=0.2, rng=r),
    ),
    "auth_failure_burst": (
        lambda: auth_route_detector(S),
        lambda i, r: _window(i, 200, sauth=90, rng=r),
    ),
}


def _run(det: WindowDetector, state: Any, wins: list[SeriesWindow]) -> list[str | None]:
    out = []
    for w in wins:
        sig = det.check(state, w)
        det.learn(state, w, sig is not None)
        out.append(sig.kind if sig else None)
    return out


@pytest.mark.parametrize("kind", sorted(CASES))
def test_quiet_on_normal_traffic(kind: str) -> None:
    make, _ = CASES[kind]
    det = make()
    rng = random.Random(1)
    flags = _run(det, det.new_state(), [_normal(i, rng) for i in range(400)])
    assert flags.count(kind) == 0


@pytest.mark.parametrize("kind", sorted(CASES))
def test_flags_the_anomaly_after_warmup_only(kind: str) -> None:
    make, bad = CASES[kind]
    det = make()
    rng = random.Random(2)
    state = det.new_state()
    assert kind in det.kinds
    early = _run(det, state, [bad(0, rng)] + [_normal(i, rng) for i in range(1, 60)])
    assert early[0] is None  # nothing is raised during warm-up
    sig_kinds = _run(det, state, [bad(i, rng) for i in range(60, 70)])
    assert sig_kinds[0] == kind


@pytest.mark.parametrize("kind", sorted(CASES))
def test_does_not_learn_flagged_windows(kind: str) -> None:
    make, bad = CASES[kind]
    det = make()
    rng = random.Random(3)
    state = det.new_state()
    _run(det, state, [_normal(i, rng) for i in range(60)])
    # A sustained anomaly keeps being flagged: the baseline does not absorb it.
    flags = _run(det, state, [bad(i, rng) for i in range(60, 90)])
    assert flags.count(kind) == 30


@pytest.mark.parametrize("kind", sorted(CASES))
def test_learn_returns_none_and_check_is_pure(kind: str) -> None:
    make, bad = CASES[kind]
    det = make()
    rng = random.Random(4)
    state = det.new_state()
    _run(det, state, [_normal(i, rng) for i in range(60)])
    w = bad(60, rng)
    snapshot = copy.deepcopy(state)
    first = det.check(state, w)
    again = det.check(copy.deepcopy(snapshot), w)
    assert first is not None and again is not None and first.p_value == again.p_value
    assert det.learn(state, w, True) is None
    assert 0.0 <= first.score <= 1.0


def test_bounds_are_increasing() -> None:
    assert all(a < b for a, b in zip(BOUNDS, BOUNDS[1:], strict=False))
