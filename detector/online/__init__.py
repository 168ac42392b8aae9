"""The NAB harness's detectors: online detectors of one scalar series, river-style.

These are what ``scripts/nab.py`` (``make nab``) runs over the Numenta Anomaly
Benchmark; the pipeline does not use them. Its detectors, and their registry,
are in :mod:`detector.detectors` (:data:`detector.detectors.registry.DETECTORS`):
they judge whole windows of a route or a client (counts, shares, latency
histograms, evidence per client) with tests a scalar score cannot replace
without changing what is detected.

Convention (river's ``anomaly.base.AnomalyDetector``): ``score_one`` then
``learn_one`` on each point; ``score_one`` changes no state. One algorithm per
module, compositions in :mod:`detector.online.composed`, all registered by name
in :data:`DETECTORS` (the harness's ``--detector`` names)."""

from __future__ import annotations

from collections.abc import Callable

from detector.online.base import AnomalyDetector, ThresholdFilter
from detector.online.composed import level_spike_likelihood, level_spike_range
from detector.online.contextual import ContextualDetector
from detector.online.level_spike import LevelSpikeDetector
from detector.online.likelihood import AnomalyLikelihood
from detector.online.range_guard import RangeGuard

DETECTORS: dict[str, Callable[..., AnomalyDetector]] = {
    "contextual": ContextualDetector,
    "level_spike": LevelSpikeDetector,
    "level_spike_range": level_spike_range,
    "level_spike_likelihood": level_spike_likelihood,
}

__all__ = [
    "DETECTORS",
    "AnomalyDetector",
    "AnomalyLikelihood",
    "ContextualDetector",
    "LevelSpikeDetector",
    "RangeGuard",
    "ThresholdFilter",
]
