"""error_surge: the 5xx share of a route above its baseline."""

from __future__ import annotations

from detector.config import DetectorSettings
from detector.detectors.ratio_surge import RatioSurgeDetector
from detector.windows.stats import S5XX


def error_surge_detector(s: DetectorSettings) -> RatioSurgeDetector:
    """The 5xx-share detector with the configured thresholds.

    >>> from detector.config import DetectorSettings
    >>> error_surge_detector(DetectorSettings()).kinds
    ('error_surge',)
    """
    return RatioSurgeDetector(
        "error_surge",
        S5XX,
        min_increase=s.error_min_increase,
        warmup=s.warmup_windows,
        min_requests=s.ratio_min_requests,
        min_hits=s.ratio_min_hits,
        alpha=s.alpha,
        prior=0.005,
        relearn_after=s.relearn_after_windows,
    )
