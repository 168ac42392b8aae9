"""Seasonality and robustness checks specific to LevelSpikeDetector."""

from __future__ import annotations

import math
import random

from detector.online.level_spike import LevelSpikeDetector

DAY = 86400.0
STEP = 600.0  # 10-minute points, 144 a day


def sinusoid(days: int, seed: int = 0) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    n = int(days * DAY / STEP)
    return [
        (i * STEP, 100.0 + 50.0 * math.sin(2 * math.pi * i * STEP / DAY) + rng.gauss(0, 2.0))
        for i in range(n)
    ]


def test_daily_peaks_not_flagged_after_first_days() -> None:
    det = LevelSpikeDetector()
    scores = []
    data = sinusoid(8)
    for t, x in data[: len(data) - 3 * 36]:  # ends just before a daily peak
        scores.append((t, det.score_one(x, t)))
        det.learn_one(x, t)
    late = [s for t, s in scores if t >= 3 * DAY]
    assert max(late) < 0.5
    mean, sigma = det.forecast(7 * DAY + DAY / 4)  # the next point, at the peak
    assert abs(mean - 150.0) < 15.0 and sigma < 15.0  # known: HW lags a fast sinusoid


def test_spike_at_trough_is_flagged() -> None:
    det = LevelSpikeDetector()
    data = sinusoid(6)
    for t, x in data:
        det.score_one(x, t)
        det.learn_one(x, t)
    trough = 6 * DAY + 0.75 * DAY  # sin = -1: expected ~50
    normal_trough = det.score_one(50.0, trough)
    spike = det.score_one(110.0, trough)  # below the daily peak, far above the trough
    assert normal_trough < 0.3
    assert spike > 0.8


def test_memory_is_bounded() -> None:
    det = LevelSpikeDetector()
    for t, x in sinusoid(10):
        det.learn_one(x, t)
    floats = sum(len(m.season) + len(m.visits) for m in det.models_)
    assert floats <= 300
