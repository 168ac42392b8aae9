"""AssessingDetector: ``assess`` then ``learn_assessed`` (what the pipeline calls) does
exactly what ``check`` then ``learn`` does, window after window, signals and state."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator

import pytest

from detector.config import DetectorSettings
from detector.detectors.base import AssessingDetector, SeriesWindow
from detector.detectors.registry import SERIES, build
from tests.detectors import latency_windows, size_windows
from tests.detectors.canary_windows import Behaviour, window
from tests.detectors.test_registry_contract import dump, series_stream

S = DetectorSettings()
ASSESSING = [name for name, det in zip(SERIES, build(S).series, strict=True)
             if isinstance(det, AssessingDetector)]


def _canary(seed: int) -> Iterator[SeriesWindow]:
    rng = random.Random(seed)
    bad = Behaviour(p5xx=0.1, latency=0.3, size=9000)
    for i in range(60):
        yield window(i, rng, 200, 0.2 if 10 <= i < 50 else 0.0, new=bad if i >= 20 else Behaviour())


def _drift(seed: int) -> Iterator[SeriesWindow]:
    deploy = latency_windows.T0 + 3 * 3600.0 + 17.0
    return latency_windows.windows(seed, 20, 7, deploy=deploy,
                                   factor=latency_windows.ramp(2.5, 3 * 3600.0))


def _sizes(seed: int) -> Iterator[SeriesWindow]:
    deploy = size_windows.T0 + 4 * 3600.0 + 17.0
    return size_windows.windows(seed, 10, 7, deploy=deploy,
                                after=lambda _r, _s, _t, sizes: sizes * 3.0)


STREAMS: list[Callable[[int], Iterable[SeriesWindow]]] = [series_stream, _canary, _drift,
                                                          _sizes]


def test_the_detectors_that_redo_work_assess() -> None:
    assert {"latency_regression", "canary", "data_exposure", "authorization_drift"} <= set(
        ASSESSING)


@pytest.mark.parametrize("name", ASSESSING)
@pytest.mark.parametrize("stream", STREAMS, ids=lambda s: s.__name__)
def test_assess_and_learn_assessed_equal_check_and_learn(
        name: str, stream: Callable[[int], Iterable[SeriesWindow]]) -> None:
    plain = build(S).series[SERIES.index(name)]
    det = build(S).series[SERIES.index(name)]
    assert isinstance(det, AssessingDetector)
    a, b = plain.new_state(), det.new_state()
    raised = 0
    for i, win in enumerate(stream(7)):
        sig = plain.check(a, win)
        found, memo = det.assess(b, win)
        assert found == sig
        raised += sig is not None
        # The pipeline's flag: any detector's signal on the window, not only this one's.
        flagged = sig is not None or i % 7 == 3
        plain.learn(a, win, flagged)
        det.learn_assessed(b, win, flagged, memo)
        assert dump(b) == dump(a)
    # The mixed stream holds every route anomaly: each detector's own signals were
    # learned through both paths too.
    assert raised or stream is not series_stream, f"{name} raised nothing"
