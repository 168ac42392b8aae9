"""The verdict's statistics against references: Newcombe's published example, scipy's
Mann-Whitney, Benjamini-Hochberg by hand; MDEs that shrink with traffic."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats as sps

from detector.verdict.stats import bh_adjust, log_shift, share_interval, share_mde, wilson


def test_newcombe_hybrid_score_interval_matches_the_paper() -> None:
    # Newcombe (1998), method 10, his first example: 56/70 - 48/80 = 0.2 (0.0524, 0.3339)
    lo, hi = share_interval(56, 70, 48, 80)
    assert round(lo, 4) == 0.0524 and round(hi, 4) == 0.3339


def test_wilson_matches_scipy() -> None:
    for k, n in ((0, 10), (3, 40), (40, 40), (17, 1000)):
        ci = sps.binomtest(k, n).proportion_ci(method="wilson")
        lo, hi = wilson(k, n)
        assert lo == pytest.approx(ci.low, abs=1e-9) and hi == pytest.approx(ci.high, abs=1e-9)


def test_mann_whitney_p_values_match_scipy() -> None:
    rnd = random.Random(3)
    for shift in (1.0, 1.1, 1.5):
        x = [rnd.lognormvariate(0, 0.3) for _ in range(30)]
        y = [shift * rnd.lognormvariate(0, 0.3) for _ in range(25)]
        s = log_shift(x, y, 0.05)
        assert s is not None
        ref = sps.mannwhitneyu(y, x, alternative="greater", method="asymptotic")
        assert s.p_up == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-12)


def test_hodges_lehmann_interval_covers_the_true_ratio() -> None:
    rnd = random.Random(5)
    covered = 0
    for _ in range(200):
        x = [rnd.lognormvariate(0, 0.2) for _ in range(30)]
        y = [1.3 * rnd.lognormvariate(0, 0.2) for _ in range(30)]
        s = log_shift(x, y, 0.05)
        assert s is not None
        covered += s.interval[0] <= 1.3 <= s.interval[1]
    assert 180 <= covered <= 200  # a 95 % interval: ~190 of 200


def test_benjamini_hochberg_by_hand() -> None:
    p = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205]
    adj = bh_adjust(p)
    assert adj[0] == pytest.approx(0.008)
    assert adj[1] == pytest.approx(0.032)
    assert adj[2] == pytest.approx(0.0672)
    assert adj[-1] == pytest.approx(0.205)


@given(st.floats(0.0, 0.3), st.integers(50, 100_000))
def test_share_mde_shrinks_with_traffic(p0: float, n: int) -> None:
    small, big = share_mde(p0, n, n, 0.05), share_mde(p0, 4 * n, 4 * n, 0.05)
    assert 0 < big <= small <= 1.0


def test_share_mde_reaches_the_simulated_power() -> None:
    # at the MDE, an exact one-sided test finds the change ~80 % of the time
    from detector.verdict.stats import share_p

    rnd = random.Random(11)
    n, p0 = 4000, 0.01
    d = share_mde(p0, n, n, 0.05)
    hits = 0
    for _ in range(300):
        k0 = sum(rnd.random() < p0 for _ in range(n))
        k1 = sum(rnd.random() < p0 + d for _ in range(n))
        hits += share_p(k1, n, k0, n, True) < 0.05
    assert 0.7 <= hits / 300 <= 0.92
