"""Named compositions of the online detectors, for :data:`detector.online.DETECTORS`.

Each factory takes one flat keyword set and hands every key to the component that declares
it; ``warmup`` goes to every component that has one (so a contract test's ``warmup=30`` means
the same for the whole stack).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from detector.online.level_spike import LevelSpikeDetector
from detector.online.likelihood import AnomalyLikelihood
from detector.online.range_guard import RangeGuard

__all__ = ["level_spike_likelihood", "level_spike_range"]


def _take(component: Callable[..., Any], params: dict[str, Any]) -> dict[str, Any]:
    names = set(inspect.signature(component).parameters) - {"detector"}
    return {k: v for k, v in params.items() if k in names}


def _check(params: dict[str, Any], *components: Callable[..., Any]) -> None:
    known = set().union(*(inspect.signature(c).parameters for c in components))
    unknown = sorted(set(params) - known)
    if unknown:
        raise TypeError(f"unknown parameter(s): {', '.join(unknown)}")


def level_spike_range(**params: Any) -> RangeGuard:
    """``RangeGuard(LevelSpikeDetector)``; range-guard keys ``tolerance``, ``decay``."""
    _check(params, LevelSpikeDetector, RangeGuard)
    raw = LevelSpikeDetector(**_take(LevelSpikeDetector, params))
    return RangeGuard(raw, **_take(RangeGuard, params))


def level_spike_likelihood(**params: Any) -> RangeGuard:
    """``RangeGuard(AnomalyLikelihood(LevelSpikeDetector))``."""
    _check(params, LevelSpikeDetector, AnomalyLikelihood, RangeGuard)
    raw = LevelSpikeDetector(**_take(LevelSpikeDetector, params))
    lik = AnomalyLikelihood(raw, **_take(AnomalyLikelihood, params))
    return RangeGuard(lik, **_take(RangeGuard, params))
