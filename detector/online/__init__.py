"""Online (streaming) detectors for scalar series, river-style: ``score_one`` then
``learn_one``; one algorithm per module, compositions in :mod:`detector.online.composed`,
all registered by name in :data:`DETECTORS`."""

from __future__ import annotations

from collections.abc import Callable

from detector.online.base import AnomalyDetector, ThresholdFilter
from detector.online.composed import level_spike_likelihood, level_spike_range
from detector.online.level_spike import LevelSpikeDetector
from detector.online.likelihood import AnomalyLikelihood
from detector.online.range_guard import RangeGuard

DETECTORS: dict[str, Callable[..., AnomalyDetector]] = {
    "level_spike": LevelSpikeDetector,
    "level_spike_range": level_spike_range,
    "level_spike_likelihood": level_spike_likelihood,
}

__all__ = [
    "DETECTORS",
    "AnomalyDetector",
    "AnomalyLikelihood",
    "LevelSpikeDetector",
    "RangeGuard",
    "ThresholdFilter",
]
