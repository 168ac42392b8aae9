"""Protocol shared by the online scalar detectors of the NAB harness, and the thresholding wrapper.

Convention (river's): ``score_one`` is called before ``learn_one`` on the same point, returns a
float in [0, 1], higher = more anomalous, and changes no state (a memo of its result, named in
the class's ``CACHES``, is not state); ``learn_one`` returns None. Thresholding is not the
detector's job: :class:`ThresholdFilter` does it, and it is also what keeps the detector from
learning on the points it flags.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["AnomalyDetector", "ThresholdFilter"]


@runtime_checkable
class AnomalyDetector(Protocol):
    """A streaming detector of one scalar series with (possibly irregular) timestamps."""

    def learn_one(self, x: float, t: float) -> None: ...

    def score_one(self, x: float, t: float) -> float: ...


class ThresholdFilter:
    """Flags points whose score reaches ``threshold`` and only lets the rest be learned.

    A flagged point is still learned when ``learn_flagged`` is set; by default it is not, so
    the wrapped detector's baseline stays on normal data (the detector itself also damps what
    it learns from outliers, and re-anchors after a sustained change).

    >>> from detector.online.level_spike import LevelSpikeDetector
    >>> f = ThresholdFilter(LevelSpikeDetector(warmup=5), threshold=0.9)
    >>> flags = [f.update(10.0 + 0.1 * (i % 3), 60.0 * i) for i in range(20)]
    >>> any(flags), f.update(100.0, 60.0 * 20)
    (False, True)
    """

    def __init__(
        self, detector: AnomalyDetector, threshold: float = 0.9, learn_flagged: bool = False
    ) -> None:
        self.detector = detector
        self.threshold = threshold
        self.learn_flagged = learn_flagged

    def score_one(self, x: float, t: float) -> float:
        return self.detector.score_one(x, t)

    def learn_one(self, x: float, t: float) -> None:
        if self.learn_flagged or self.detector.score_one(x, t) < self.threshold:
            self.detector.learn_one(x, t)

    def classify(self, score: float) -> bool:
        return score >= self.threshold

    def update(self, x: float, t: float) -> bool:
        """Score, flag and (unless flagged) learn one point; returns the flag."""
        flagged = self.classify(self.detector.score_one(x, t))
        if self.learn_flagged or not flagged:
            self.detector.learn_one(x, t)
        return flagged
