"""Canary comparisons: a change confined to the newer version is found with that version."""

from __future__ import annotations

import random

import orjson

from detector.config import DetectorSettings
from detector.detectors.base import Signal
from detector.detectors.canary import MIN_MIXED, CanaryDetector, split
from detector.incidents.summary import describe
from tests.detectors.canary_windows import NEW, OLD, Behaviour, window

S = DetectorSettings()


def _run(new: Behaviour, share: float = 0.1, minutes: int = 45, n: int = 60,
         seed: int = 1, before: int = 30, after: int = 30) -> list[Signal]:
    """Old version alone, then a canary at ``share`` for ``minutes``, then rolled back."""
    rng = random.Random(seed)
    det = CanaryDetector(S)
    st = det.new_state()
    out = []
    for i in range(before + minutes + after):
        canary = before <= i < before + minutes
        w = window(i, rng, n, share if canary else 0.0, new=new)
        sig = det.check(st, w)
        assert det.check(st, w) == sig  # check is pure
        det.learn(st, w, sig is not None)
        if sig is not None:
            out.append(sig)
    return out


def test_split_gives_each_version_its_share() -> None:
    w = window(0, random.Random(3), 400, 0.25)
    sides = split(w.stats)
    assert set(sides) == {OLD, NEW}
    assert sides[OLD][0] + sides[NEW][0] == 400
    assert sum(sides[OLD][2]) + sum(sides[NEW][2]) == sum(w.stats[6])


def test_ten_percent_canary_5xx_is_found_with_its_version() -> None:
    sigs = _run(Behaviour(p5xx=0.10))
    assert sigs, "a canary failing 10 % of its requests must be found"
    s = sigs[0]
    assert s.kind == "error_surge" and s.version == NEW
    assert s.extra["other_version"] == OLD
    assert 0.05 <= s.extra["version_share"] <= 0.15
    assert s.observed > 0.05 and s.baseline < 0.01
    assert all(x.start >= 30 * 60.0 for x in sigs)  # only while the canary serves
    text = describe(s, s.start)
    assert f"on {NEW} (canary," in text and f"% on {OLD}" in text and "5xx" in text


def test_canary_latency_regression_is_found() -> None:
    sigs = _run(Behaviour(latency=0.25))
    assert sigs and {s.kind for s in sigs} == {"latency_regression"}
    assert sigs[0].version == NEW and sigs[0].observed > 2 * sigs[0].baseline


def test_canary_size_jump_is_data_exposure() -> None:
    sigs = _run(Behaviour(size=6000))
    assert sigs and {s.kind for s in sigs} == {"data_exposure"}
    assert sigs[0].version == NEW and sigs[0].observed > 3 * sigs[0].baseline
    assert "median 2xx size" in describe(sigs[0], sigs[0].start)


def test_clean_canary_is_silent() -> None:
    for seed in range(5):
        assert _run(Behaviour(), share=0.2, minutes=60, seed=seed) == []


def test_five_percent_slower_canary_is_silent() -> None:
    for seed in range(5):
        assert _run(Behaviour(latency=0.084), share=0.5, minutes=60, n=200, seed=seed) == []


def test_rolling_update_is_not_judged() -> None:
    # A 90 s rollout mixes versions for two windows, then the new one serves alone:
    # even a badly failing version is left to the ordinary detectors.
    rng = random.Random(5)
    det = CanaryDetector(S)
    st = det.new_state()
    bad = Behaviour(p5xx=0.4)
    shares = [0.0] * 30 + [0.3, 0.9] + [1.0] * 30
    for i, share in enumerate(shares):
        w = window(i, rng, 200, share, new=bad)
        assert det.check(st, w) is None
        det.learn(st, w, False)
    assert st.newer is None  # the period ended once the old version was gone
    assert MIN_MIXED > 3


def test_versions_first_seen_together_take_the_smaller_as_the_canary() -> None:
    # A route the old version never served before the canary (no history): at a tie
    # in first sight, the version with the smaller share is the newer one.
    sigs = _run(Behaviour(p5xx=0.2), share=0.15, before=0)
    assert sigs and all(s.version == NEW for s in sigs)


def test_state_in_a_canary_period_survives_a_snapshot() -> None:
    from detector.state.codec import decode, encode

    rng = random.Random(4)
    det = CanaryDetector(S)
    st = det.new_state()
    for i in range(12):
        w = window(i, rng, 80, 0.0 if i < 4 else 0.15, new=Behaviour(p5xx=0.3))
        det.learn(st, w, False)
    assert st.newer == NEW and st.mixed >= 6
    back = decode(orjson.loads(orjson.dumps(encode(st))))
    w = window(12, rng, 80, 0.15, new=Behaviour(p5xx=0.3))
    assert det.check(back, w) == det.check(st, w) is not None
