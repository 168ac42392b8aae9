"""ContextualDetector: sequence novelty over quantised values, rest period, bounded memory."""

from __future__ import annotations

import random

from detector.online.contextual import ContextualDetector

STEP = 60.0
PATTERN = [0.0, 2.0, 5.0, 9.0, 5.0, 2.0]


def feed(det: ContextualDetector, xs: list[float], start: int = 0) -> list[float]:
    out = []
    for i, x in enumerate(xs, start):
        out.append(det.score_one(x, STEP * i))
        det.learn_one(x, STEP * i)
    return out


def test_learned_sequence_scores_zero_and_a_new_value_scores() -> None:
    det = ContextualDetector(input_min=0.0, input_max=9.0, rest_period=0)
    scores = feed(det, PATTERN * 50)
    assert max(scores[-60:]) == 0.0
    assert det.score_one(7.0, STEP * 300) > 0.0


def test_known_value_out_of_its_context_is_anomalous() -> None:
    # 5.0 is seen every fourth step, but only after 9.0; after 2.0 comes 0.0
    det = ContextualDetector(input_min=0.0, input_max=9.0, rest_period=0)
    feed(det, [0.0, 9.0, 5.0, 2.0] * 75)
    assert det.score_one(0.0, STEP * 300) == 0.0
    assert det.score_one(5.0, STEP * 300) > 0.3


def test_rest_period_reports_only_a_new_high() -> None:
    rng = random.Random(4)
    xs = [min(max(rng.gauss(4.5, 2.0), 0.0), 9.0) for _ in range(1500)]
    raw = feed(ContextualDetector(input_min=0.0, input_max=9.0, rest_period=0), xs)
    rested = feed(ContextualDetector(input_min=0.0, input_max=9.0, rest_period=20), xs)
    expected = [
        r if r > max(raw[max(0, i - 20) : i], default=0.0) else 0.0 for i, r in enumerate(raw)
    ]
    assert rested == expected
    assert sum(r > 0 for r in rested) < sum(r > 0 for r in raw)


def test_memory_is_bounded() -> None:
    rng = random.Random(3)
    det = ContextualDetector(input_min=0.0, input_max=1.0, max_contexts=200, bits=4)
    feed(det, [rng.random() for _ in range(3000)])
    assert len(det.contexts_) <= 200
    assert len(det.lookup_) == len(det.contexts_)
    assert sum(len(b) for b in det.by_key_.values()) == len(det.contexts_)


def test_online_range_is_learned_then_widened() -> None:
    det = ContextualDetector(range_warmup=100, range_margin=0.1, rest_period=0)
    feed(det, PATTERN * 40)
    assert (det.lo_, det.hi_) == (-0.9, 9.9)
    assert det.score_one(50.0, STEP * 240) > 0.5  # beyond the range: an unseen fact
    det.learn_one(50.0, STEP * 240)
    assert det.hi_ > 50.0


def test_scores_zero_until_warm_then_in_unit_interval() -> None:
    rng = random.Random(8)
    xs = [rng.gauss(0.0, 1.0) for _ in range(500)]
    det = ContextualDetector(warmup=30)
    scores = feed(det, xs)
    assert scores[: det.range_warmup + 30] == [0.0] * (det.range_warmup + 30)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores == feed(ContextualDetector(warmup=30), xs)


def test_level_shift_reported_at_onset_then_learned() -> None:
    det = ContextualDetector(input_min=0.0, input_max=20.0, rest_period=30)
    before = feed(det, [1.0, 2.0, 3.0] * 100)
    after = feed(det, [15.0, 16.0, 17.0] * 100, start=300)
    assert max(before[-150:]) == 0.0
    assert after[0] > 0.5  # reported at the onset, then at most once more (the rest period)
    assert sum(s > 0.0 for s in after) <= 2
    assert max(after[-150:]) == 0.0
