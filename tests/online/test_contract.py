"""Contract every online detector in detector.online.DETECTORS must keep."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from detector.online import DETECTORS, AnomalyDetector, ThresholdFilter

STEP = 60.0
WARMUP = 30


def make(name: str) -> AnomalyDetector:
    return DETECTORS[name](warmup=WARMUP)


def noisy(n: int, seed: int = 1, level: float = 100.0, sd: float = 1.0) -> list[float]:
    rng = random.Random(seed)
    return [level + rng.gauss(0.0, sd) for _ in range(n)]


def run(det: AnomalyDetector, xs: list[float], start: int = 0) -> list[float]:
    out = []
    for i, x in enumerate(xs, start):
        out.append(det.score_one(x, STEP * i))
        assert det.learn_one(x, STEP * i) is None
    return out


detectors = pytest.mark.parametrize("name", sorted(DETECTORS))
# The contextual detector scores novelty, not magnitude: on iid noise an unseen transition
# legitimately scores 1, and its rest period reports a sustained change once, at its onset.
# The magnitude properties below are the level/spike family's; its own are in
# test_contextual.py.
ONSET_ONLY = {"contextual"}
magnitude_detectors = pytest.mark.parametrize(
    "name", sorted(n for n in DETECTORS if n not in ONSET_ONLY)
)


@detectors
def test_protocol_and_range(name: str) -> None:
    det = make(name)
    assert isinstance(det, AnomalyDetector)
    xs = noisy(300) + [1e6, -1e6, 0.0, 100.0]
    scores = run(det, xs)
    assert all(0.0 <= s <= 1.0 and not math.isnan(s) for s in scores)


@detectors
def test_deterministic(name: str) -> None:
    xs = noisy(400, seed=7)
    assert run(make(name), xs) == run(make(name), xs)


@detectors
def test_warmup_scores_zero(name: str) -> None:
    xs = noisy(WARMUP)
    xs[WARMUP // 2] = 1e4
    assert run(make(name), xs) == [0.0] * WARMUP


@detectors
def test_score_does_not_learn(name: str) -> None:
    det = make(name)
    run(det, noisy(200))
    first = det.score_one(150.0, STEP * 200)
    for _ in range(5):
        det.score_one(150.0, STEP * 200)
    assert det.score_one(150.0, STEP * 200) == first


@detectors
@pytest.mark.parametrize("value", [0.0, 5.0, -3.5, 1e9])
def test_constant_never_flagged(name: str, value: float) -> None:
    assert max(run(make(name), [value] * 500)) < 0.1


@magnitude_detectors
def test_spike_scores_high(name: str) -> None:
    det = make(name)
    normal = run(det, noisy(400))[WARMUP:]
    spike = det.score_one(1000.0, STEP * 400)
    assert spike > 0.8 and spike > max(normal)


@magnitude_detectors
def test_level_shift_flagged_then_absorbed(name: str) -> None:
    det = make(name)
    normal = run(det, noisy(400))[WARMUP:]
    shifted = run(det, noisy(300, seed=2, level=130.0), start=400)
    assert shifted[0] > max(normal)
    assert max(shifted[-100:]) < 0.5


@magnitude_detectors
def test_sustained_anomaly_not_learned(name: str) -> None:
    det = make(name)
    normal = run(det, noisy(400))[WARMUP:]
    anomaly = run(det, noisy(30, seed=3, level=130.0), start=400)
    assert min(anomaly[:10]) > max(normal)


@magnitude_detectors
def test_irregular_timestamps(name: str) -> None:
    rng = random.Random(5)
    det = make(name)
    t = 0.0
    scores = []
    for x in noisy(400):
        t += rng.choice([30.0, 60.0, 60.0, 90.0, 600.0])
        scores.append(det.score_one(x, t))
        det.learn_one(x, t)
    assert max(scores[WARMUP:]) < 0.8
    assert det.score_one(1000.0, t + 60.0) > 0.8


def test_threshold_filter_protects_detector() -> None:
    det = DETECTORS["level_spike"](warmup=WARMUP)
    f = ThresholdFilter(det, threshold=0.8)
    flags = [f.update(x, STEP * i) for i, x in enumerate(noisy(300))]
    assert not any(flags)
    before = det.forecast(STEP * 300)
    assert f.update(1000.0, STEP * 300)
    assert det.forecast(STEP * 301)[0] == pytest.approx(before[0], abs=1.0)


def test_forecast_contract() -> None:
    factory: Callable[..., AnomalyDetector] = DETECTORS["level_spike"]
    det = factory()
    run(det, noisy(300, sd=2.0))
    mean, sigma = det.forecast(STEP * 300)  # type: ignore[attr-defined]
    assert mean == pytest.approx(100.0, abs=1.0)
    assert 1.0 < sigma < 4.0
