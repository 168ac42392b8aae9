"""client_error_surge: 4xx other than 401/403/404 (e.g. a deploy breaking old clients)."""

from __future__ import annotations

from detector.config import DetectorSettings
from detector.detectors.ratio_surge import RatioSurgeDetector
from detector.windows.stats import S4XX


def client_error_surge_detector(s: DetectorSettings) -> RatioSurgeDetector:
    """The 4xx-share detector; 401/403 (auth) and 404 (probing) are counted elsewhere.

    >>> from detector.config import DetectorSettings
    >>> client_error_surge_detector(DetectorSettings()).kinds
    ('client_error_surge',)
    """
    return RatioSurgeDetector(
        "client_error_surge",
        S4XX,
        min_increase=s.client_error_min_increase,
        warmup=s.warmup_windows,
        min_requests=s.ratio_min_requests,
        min_hits=s.ratio_min_hits,
        alpha=s.alpha,
        prior=0.01,
        relearn_after=s.relearn_after_windows,
    )
