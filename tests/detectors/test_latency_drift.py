"""Slow latency drifts after a deploy: found against the previous version, named by deploy."""

from __future__ import annotations

import pytest

from detector.config import DetectorSettings
from detector.detectors.latency_regression import LatencyRegressionDetector
from detector.state.codec import decode, encode
from tests.detectors.latency_windows import T0, ramp, run, windows

DEPLOY = T0 + 3 * 3600.0 + 17.0  # 03:00, after an ordinary warm-up


def _det() -> LatencyRegressionDetector:
    return LatencyRegressionDetector(DetectorSettings())


@pytest.mark.parametrize("rate", [5, 20, 50])
def test_a_regression_creeping_over_three_hours_is_found_with_its_deploy(rate: int) -> None:
    sigs = run(_det(), windows(rate, rate, 8, deploy=DEPLOY, factor=ramp(2.5, 3 * 3600.0)))
    assert sigs, "the creep was absorbed"
    first = sigs[0]
    assert DEPLOY < first.end <= DEPLOY + 3.5 * 3600.0
    assert first.extra["drift_since"] == DEPLOY
    # The incident spans the drift: from where the CUSUM left zero, after the deploy.
    assert DEPLOY - 60.0 <= first.start < first.end - 600.0


def test_the_decayed_baseline_alone_absorbs_the_same_creep() -> None:
    # Why the frozen reference exists: without a deploy to freeze at, the
    # ordinary baseline learns the creep as it grows (the slow reference, re-frozen
    # every two hours, sees at most part of it).
    sigs = run(_det(), windows(20, 20, 8, deploy=DEPLOY, factor=ramp(2.5, 3 * 3600.0)))
    steps = [s for s in sigs if "cusum" not in s.extra]
    assert sigs and not steps or steps[0].start > sigs[0].start


@pytest.mark.parametrize("rate", [5, 50, 200])
def test_a_deploy_five_percent_slower_raises_nothing(rate: int) -> None:
    for seed in range(3):
        sigs = run(_det(), windows(seed, rate, 14, cycle=0.3, deploy=DEPLOY,
                                   factor=lambda _s: 1.05))
        assert sigs == []


@pytest.mark.parametrize("rate", [5, 50, 200])
def test_days_of_ordinary_traffic_with_a_daily_latency_cycle_raise_nothing(rate: int) -> None:
    for sigma in (0.35, 0.8):
        assert run(_det(), windows(rate + 1, rate, 50, sigma=sigma, cycle=0.3)) == []


def test_a_rollback_ends_the_drift_comparison_afresh() -> None:
    # Regressed by a deploy, then rolled back: the rollback is judged against
    # the version before it, and nothing fires once latency is back.
    det = _det()
    state = det.new_state()
    bad = windows(3, 50, 12, deploy=DEPLOY, factor=ramp(3.0, 2 * 3600.0))
    flagged = []
    for w in bad:
        if w.start >= DEPLOY + 4 * 3600.0:
            break
        sig = det.check(state, w)
        det.learn(state, w, sig is not None)
        flagged.append(sig is not None)
    assert any(flagged)
    back = DEPLOY + 4 * 3600.0 + 5.0
    after = []
    for w in windows(4, 50, 12, deploy=back):
        if w.start < back:
            continue
        w = w._replace(start=w.start, deploy=back)
        sig = det.check(state, w)
        det.learn(state, w, sig is not None)
        after.append(sig)
    assert [s for s in after[10:] if s is not None] == []


def test_check_is_pure_at_a_deploy_window() -> None:
    det = _det()
    state = det.new_state()
    wins = list(windows(5, 50, 4, deploy=DEPLOY, factor=lambda _s: 4.0))
    for w in wins:
        if w.deploy is not None:
            before = encode(state)
            det.check(state, w)
            det.check(state, w)
            assert encode(state) == before
        det.learn(state, w, det.check(state, w) is not None)
    assert state.ref_deploy == DEPLOY


def test_a_snapshot_from_before_the_drift_fields_still_loads_and_runs() -> None:
    det = _det()
    state = det.new_state()
    wins = list(windows(6, 50, 8, deploy=DEPLOY, factor=ramp(3.0, 2 * 3600.0)))
    for w in wins[:120]:
        det.learn(state, w, det.check(state, w) is not None)
    tree = encode(state)
    fields = tree["$x"][1]
    for name in ("deploy", "ref", "ref_since", "ref_deploy", "cusum", "onset", "acc"):
        del fields[name]  # what a snapshot written before them holds
    old = decode(tree)
    assert not hasattr(old, "cusum")
    sigs = []
    for w in wins[120:]:
        sig = det.check(old, w)
        det.learn(old, w, sig is not None)
        sigs.append(sig)
    assert any(s is not None and s.extra.get("drift_since") == DEPLOY for s in sigs)
