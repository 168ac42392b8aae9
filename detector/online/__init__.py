"""Online (streaming) detectors for scalar series, river-style: ``score_one`` then
``learn_one``; one detector per module, registered by name in :data:`DETECTORS`."""

from __future__ import annotations

from collections.abc import Callable

from detector.online.base import AnomalyDetector, ThresholdFilter
from detector.online.level_spike import LevelSpikeDetector

DETECTORS: dict[str, Callable[..., AnomalyDetector]] = {
    "level_spike": LevelSpikeDetector,
}

__all__ = ["DETECTORS", "AnomalyDetector", "LevelSpikeDetector", "ThresholdFilter"]
