"""RangeGuard: a slow ramp to unprecedented levels is flagged even when the forecaster
tracks it; values inside the seen range pass the wrapped score through."""

from __future__ import annotations

import random

from detector.online import LevelSpikeDetector, RangeGuard

STEP = 60.0


def test_ramp_beyond_range_flagged_inside_passed_through() -> None:
    rng = random.Random(3)
    raw = LevelSpikeDetector()
    guard = RangeGuard(LevelSpikeDetector())
    xs = [100.0 + rng.gauss(0.0, 5.0) for _ in range(1000)]
    xs += [120.0 + 0.5 * i + rng.gauss(0.0, 5.0) for i in range(200)]  # slow ramp upwards
    guard_scores, raw_scores = [], []
    for i, x in enumerate(xs):
        guard_scores.append(guard.score_one(x, STEP * i))
        raw_scores.append(raw.score_one(x, STEP * i))
        guard.learn_one(x, STEP * i)
        raw.learn_one(x, STEP * i)
    assert max(guard_scores[1000:]) > 0.8
    assert max(guard_scores[1000:]) > max(raw_scores[1000:])
    inside = guard.score_one(140.0, STEP * len(xs))
    assert inside == raw.score_one(140.0, STEP * len(xs))


def test_forgets_old_range() -> None:
    guard = RangeGuard(LevelSpikeDetector(), decay=1e-3)
    guard.learn_one(1000.0, 0.0)
    for i in range(1, 5000):
        guard.learn_one(100.0 + (i % 7), STEP * i)
    assert guard.hi_ < 200.0
