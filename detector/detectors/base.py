"""Detector protocol: compare a closed window with a per-series online baseline.

Every detector follows one contract (tested in tests/detectors/test_contract.py):
``check`` scores the closed window against the baseline *before* learning it,
``learn`` then updates the baseline, and skips windows the detector flagged so
a baseline never learns an anomaly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from detector.events import AccessEvent
from detector.kinds import Kind


class SeriesKey(NamedTuple):
    service: str
    method: str
    route: str


class SeriesWindow(NamedTuple):
    key: SeriesKey
    start: float
    end: float
    stats: list[Any]  # layout in detector.windows.stats
    coverage: float  # share of the window the stream covered (partial first/last windows)


@dataclass(frozen=True, slots=True, kw_only=True)
class Signal:
    """One anomalous window of one series (or client), before incident grouping.

    Keyword-only: fourteen positional fields of alike types are too easy to swap.

    >>> Signal(kind="error_surge", service="pay", route="/r", method="GET", client=None,
    ...        start=0.0, end=60.0, score=0.9, observed=0.2, baseline=0.01, requests=100,
    ...        p_value=1e-9, extra={}, samples=[]).kind
    'error_surge'
    """

    kind: Kind
    service: str
    route: str | None
    method: str | None
    client: str | None
    start: float
    end: float
    score: float  # 0..1, higher = more anomalous
    observed: float
    baseline: float
    requests: int
    p_value: float
    extra: dict[str, Any]
    samples: list[AccessEvent]


class WindowDetector(Protocol):
    """One detector family; its per-series state lives with the series."""

    kinds: tuple[Kind, ...]

    def new_state(self) -> Any: ...

    def check(self, state: Any, win: SeriesWindow) -> Signal | None: ...

    def learn(self, state: Any, win: SeriesWindow, flagged: bool) -> None: ...


def score_from_p(p: float) -> float:
    """Map a p-value to a 0..1 score that still separates tiny p-values."""
    import math

    if p <= 0:
        return 1.0
    return round(min(1.0, -math.log10(max(p, 1e-300)) / 30.0), 4)
