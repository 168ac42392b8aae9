"""river's estimator check for the NAB harness's detectors: ``score_one`` changes no state."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from detector.online import DETECTORS, ThresholdFilter


def _dump(o: Any) -> Any:
    """Every attribute, recursively (floats by repr, so that nan compares), memos left out."""
    if isinstance(o, float):
        return repr(o)
    if o is None or isinstance(o, (str, int, bool)):
        return o
    if isinstance(o, dict):
        return [(_dump(k), _dump(v)) for k, v in o.items()]
    if isinstance(o, (list, tuple, set, frozenset)) or hasattr(o, "maxlen"):
        return [type(o).__name__, *(_dump(x) for x in o)]
    fields = dict(getattr(o, "__dict__", {}))
    for cls in type(o).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if hasattr(o, name):
                fields[name] = getattr(o, name)
    for name in getattr(type(o), "CACHES", ()):  # memos of a result, declared as such
        fields.pop(name, None)
    if not fields and hasattr(o, "__array__"):
        return repr(o.tolist())
    return [type(o).__name__, *((k, _dump(v)) for k, v in sorted(fields.items()))]


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_score_one_changes_no_state(name: str) -> None:
    det = DETECTORS[name](warmup=30)
    rng = random.Random(11)
    for i in range(300):
        x = 100.0 + rng.gauss(0.0, 1.0) + (400.0 if i in (120, 250) else 0.0)
        before = _dump(det)
        twin = copy.deepcopy(det)
        s = det.score_one(x, 60.0 * i)
        assert _dump(det) == before
        assert twin.score_one(x, 60.0 * i) == s == det.score_one(x, 60.0 * i)
        assert det.learn_one(x, 60.0 * i) is None


def test_threshold_filter_keeps_the_protocol() -> None:
    f = ThresholdFilter(DETECTORS["level_spike"](warmup=5), threshold=0.9)
    before = _dump(f)
    f.score_one(10.0, 0.0)
    assert _dump(f) == before
