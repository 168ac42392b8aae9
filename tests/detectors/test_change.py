"""The Bernoulli CUSUM: quiet at the reference rate, quick on a doubled one."""

from __future__ import annotations

import math

import numpy as np

from detector.detectors.change import BernoulliCusum

H = math.log(1e6)


def _path(q: float, q0: float, n: int, windows: int, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    c, s, out = BernoulliCusum(q0, 2.5), 0.0, []
    for k in rng.binomial(n, q, windows):
        s = c.step(s, int(k), n)
        out.append(s)
    return out


def test_no_false_alarm_in_a_week_of_windows_at_the_reference_rate() -> None:
    for n in (5, 50, 500):
        for seed in range(3):
            assert max(_path(0.1, 0.1, n, 7 * 1440, seed)) < H


def test_a_tripled_share_crosses_the_threshold_within_minutes_at_fifty_a_minute() -> None:
    path = _path(0.3, 0.1, 50, 60, 1)
    assert next(i for i, s in enumerate(path) if s >= H) < 10


def test_the_p_value_bound_is_ville_s() -> None:
    assert math.isclose(BernoulliCusum.p_value(H), 1e-6)
    assert BernoulliCusum.p_value(1000.0) == 0.0
