"""data_exposure: response sizes grown after a deploy, judged against the previous version."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detector.config import DetectorSettings
from detector.detectors.base import SeriesWindow
from detector.detectors.data_exposure import DataExposureDetector, size_quantile
from detector.incidents.summary import describe, severity
from detector.state.codec import decode, encode
from detector.windows.stats import BYTES, COUNT, NB_BYTES, size_bucket
from tests.detectors.size_windows import KEY, T0, Change, lognormal, run, windows

DEPLOY = T0 + 4 * 3600.0 + 17.0  # after four hours of the previous version


def _det() -> DataExposureDetector:
    return DataExposureDetector(DetectorSettings())


def scaled(factor: float) -> Change:
    return lambda _rng, _since, _t, sizes: sizes * factor


def tail(share: float, factor: float) -> Change:
    """A share of answers ``factor`` times larger (other clients' data in them)."""
    def change(rng: np.random.Generator, _s: float | None, _t: float, sizes: np.ndarray,
               ) -> np.ndarray:
        big = rng.random(len(sizes)) < share
        return np.where(big, sizes * factor, sizes)
    return change


@pytest.mark.parametrize(("rate", "factor"), [(2, 7.5), (20, 2.5), (200, 3.0)])
def test_a_jump_after_a_deploy_is_raised_once_with_its_evidence(rate: int, factor: float,
                                                                ) -> None:
    sigs = run(_det(), windows(rate, rate, 8, deploy=DEPLOY, after=scaled(factor)))
    assert len(sigs) == 1, "one incident per route and deploy"
    sig = sigs[0]
    ex = sig.extra
    assert sig.kind == "data_exposure" and sig.route == KEY.route and ex["rule"] == "jump"
    assert DEPLOY < sig.start <= DEPLOY + 120.0 and sig.end <= DEPLOY + 3600.0
    assert ex["drift_since"] == DEPLOY and sig.p_value <= 1e-6
    assert ex["median_ratio"] == pytest.approx(factor, rel=0.25)
    assert ex["baseline_median_bytes"] == pytest.approx(1200, rel=0.2)
    assert ex["answers_after"] >= 30 and ex["answers_before"] >= 100


def test_a_tail_of_large_answers_is_raised_on_the_upper_quantile() -> None:
    sigs = run(_det(), windows(5, 10, 8, deploy=DEPLOY, after=tail(0.2, 8.0)))
    assert len(sigs) == 1
    ex = sigs[0].extra
    assert ex["rule"] == "tail" and ex["p90_ratio"] >= 3
    assert ex["median_ratio"] < ex["p90_ratio"] / 2  # most clients get what they always got
    assert ex["share_above_baseline_p99"] >= 0.1


@pytest.mark.parametrize("rate", [5, 50, 300])
@pytest.mark.parametrize("factor", [1.1, 0.5, 1.0])
def test_growth_under_the_floor_and_shrinking_bodies_raise_nothing(rate: int,
                                                                   factor: float) -> None:
    for seed in range(3):
        assert run(_det(), windows(seed, rate, 10, deploy=DEPLOY, after=scaled(factor))) == []


def test_the_same_jump_without_a_deploy_raises_nothing() -> None:
    def jump_at_four(rng: np.random.Generator, s: float | None, t: float,
                     n: np.ndarray) -> np.ndarray:
        return lognormal(1200.0 * (6.0 if t >= DEPLOY else 1.0))(rng, s, t, n)
    assert run(_det(), windows(1, 50, 10, draw=jump_at_four)) == []


def test_a_jump_long_after_the_watch_raises_nothing() -> None:
    late = DEPLOY + 3.5 * 3600.0

    def jump_late(rng: np.random.Generator, s: float | None, t: float,
                  n: np.ndarray) -> np.ndarray:
        return lognormal(1200.0 * (6.0 if t >= late else 1.0))(rng, s, t, n)
    assert run(_det(), windows(1, 50, 10, draw=jump_late, deploy=DEPLOY)) == []


def bimodal(rng: np.random.Generator, _since: float | None, t: float,
            n: np.ndarray) -> np.ndarray:
    """Single items (~1.2 KB) and lists (~15 KB), lists from 10 % at night to 45 % at 14:00."""
    hour = ((t % 86400.0) / 3600.0 - 14.0 + 12.0) % 24.0 - 12.0
    lists = 0.1 + 0.35 * math.exp(-0.5 * (hour / 4.0) ** 2)
    big = rng.random(len(n)) < lists
    return np.where(big, 15000.0, 1200.0) * np.exp(0.4 * rng.normal(size=len(n)))


@pytest.mark.parametrize("hour", [6.0, 8.0, 10.0, 12.0, 16.0])
def test_a_deploy_on_a_route_whose_mix_of_sizes_moves_through_the_day_raises_nothing(
        hour: float) -> None:
    # The deploy changes nothing; the share of large bodies grows or falls over
    # the three watched hours as it does every day.
    for seed in range(3):
        wins = windows(seed, 40, hour + 5, draw=bimodal, deploy=T0 + hour * 3600.0 + 17.0)
        assert run(_det(), wins) == []


def test_a_real_jump_on_that_bimodal_route_is_raised() -> None:
    def both_grow(rng: np.random.Generator, s: float | None, t: float,
                  sizes: np.ndarray) -> np.ndarray:
        return sizes * 3.0
    wins = windows(2, 40, 12, draw=bimodal, deploy=T0 + 10 * 3600.0 + 17.0, after=both_grow)
    assert len(run(_det(), wins)) == 1


def test_no_reference_no_verdict() -> None:
    # A deploy twenty minutes into a quiet route's life: too few answers to compare.
    sigs = run(_det(), windows(3, 2, 4, deploy=T0 + 1200.0, after=scaled(6.0)))
    assert sigs == []


def test_check_is_pure_and_the_state_round_trips_a_snapshot() -> None:
    det = _det()
    state = det.new_state()
    wins = list(windows(4, 20, 5, deploy=DEPLOY, after=scaled(4.0)))
    for w in wins[:250]:
        det.learn(state, w, det.check(state, w) is not None)
    back = decode(encode(state))
    before = encode(state)
    sigs = [det.check(back, w) for w in wins[250:252]]
    assert encode(state) == before
    assert [s.kind if s else None for s in sigs] == [det.check(state, w) and "data_exposure"
                                                     for w in wins[250:252]]
    assert len(back.base) <= NB_BYTES and set(back.post) <= set(range(NB_BYTES))


def test_windows_without_sizes_or_from_old_snapshots_are_taken_in_stride() -> None:
    det = _det()
    state = det.new_state()
    old = SeriesWindow(KEY, T0, T0 + 60.0, [5, 0, 0, 0, 0], 1.0, T0)  # before BYTES existed
    assert det.check(state, old) is None
    det.learn(state, old, False)
    empty = SeriesWindow(KEY, T0 + 60.0, T0 + 120.0, [0] * 15, 1.0, T0)
    assert det.check(state, empty) is None
    det.learn(state, empty, False)
    assert state.base == {}


def test_summary_and_severity_name_sizes_before_and_after() -> None:
    sig = run(_det(), windows(7, 50, 6, deploy=DEPLOY, after=scaled(7.5)))[0]
    text = describe(sig, sig.start)
    assert text.startswith("GET /v1/users/{id} response size median ")
    assert "KB (was 1." in text and "p90 " in text
    assert severity(sig) == "high"


def test_size_quantile_reads_inside_a_bucket() -> None:
    h = [0.0] * NB_BYTES
    for n in (1000, 1100, 1210, 1331):  # 10 % apart, across two buckets
        h[size_bucket(n)] += 25
    grown = [0.0] * NB_BYTES
    for n in (1100, 1210, 1331, 1464):
        grown[size_bucket(n)] += 25
    m0, m1 = size_quantile(h, 0.5), size_quantile(grown, 0.5)
    assert m0 is not None and m1 is not None and 1.0 < m1 / m0 < 1.2
    assert size_quantile([0.0] * NB_BYTES, 0.5) is None


def test_counts_only_the_slot_it_reads() -> None:
    st = next(windows(0, 30, 1)).stats
    assert sum(st[BYTES]) == st[COUNT]
