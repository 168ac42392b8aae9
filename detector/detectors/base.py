"""The detector protocol (river's ``anomaly/base.py``): checking is pure, learning explicit.

Every detector follows one contract, checked for every entry of
:data:`detector.detectors.registry.DETECTORS` by tests/detectors/test_contract.py:

* ``check`` scores a closed window against what the detector has learned and
  changes no state: checking twice gives the same signals, and leaves the
  detector (and the state passed in) as it was;
* ``learn`` is the only method that changes state, called after ``check`` on
  the same window; a baseline skips windows that were flagged, so it never
  learns an anomaly, while evidence memories (decayed per-client counts)
  keep counting;
* ``kinds`` names every incident kind its signals carry (CONTRACTS.md §3).

Two families share that contract. A :class:`WindowDetector` keeps one state
per series, which the caller holds and passes in (the pipeline keeps it with
the series); a :class:`MemoryDetector` keeps one memory of its own across the
whole stream (clients, findings, new routes) and checks one window's input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar, runtime_checkable

from detector.events import AccessEvent
from detector.kinds import Kind

if TYPE_CHECKING:  # the analyzer pulls in scikit-learn: only when analysis is on
    from detector.analysis.findings import Finding


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
    # Event time of the service's latest deployment at or before the window's end
    # (explicit or inferred from a new version), None when none is known: detectors
    # that compare a version with the one before it freeze their baseline there.
    deploy: float | None = None
    # Requests of the whole service in this window (every route): a route's share of
    # its service's traffic is steady through the day where its own rate is not.
    service_requests: int = 0


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
    # The service version the anomaly is confined to, while other versions serve at
    # the same time (a canary): the incident's ``version`` (CONTRACTS §3).
    version: str | None = None


class ClientWindow(NamedTuple):
    """One closed window of per-(service, client) counters (layout in detector.windows.stats)."""

    start: float
    end: float
    clients: dict[tuple[str, str], list[Any]]


class FindingsWindow(NamedTuple):
    """One closed window's per-request findings, and the clients found scanning in it."""

    start: float
    end: float
    findings: list[tuple[AccessEvent, str, Finding]]
    scanners: frozenset[tuple[str, str]] | set[tuple[str, str]]


class EndpointWindow(NamedTuple):
    """One closed window of one series, as the new-endpoint detector sees it."""

    key: SeriesKey
    widx: int
    start: float
    end: float
    requests: int
    successes: int
    samples: list[AccessEvent]
    # The service's latest deployment at or before the window's end (as in
    # SeriesWindow): a route born soon after one is more credibly a new endpoint.
    deploy: float | None = None


@runtime_checkable
class Detector(Protocol):
    """What every detector is: the kinds it raises, a pure ``check`` and an explicit ``learn``.

    The signatures of ``check`` and ``learn`` are those of the detector's family
    (:class:`WindowDetector` or :class:`MemoryDetector`).

    >>> from detector.config import DetectorSettings
    >>> from detector.detectors.scanning import ScanDetector
    >>> isinstance(ScanDetector(DetectorSettings()), Detector)
    True
    """

    kinds: tuple[Kind, ...]

    def check(self, *args: Any, **kwargs: Any) -> Any: ...

    def learn(self, *args: Any, **kwargs: Any) -> None: ...


@runtime_checkable
class WindowDetector(Protocol):
    """A detector of route series; its per-series state lives with the series.

    >>> from detector.config import DetectorSettings
    >>> from detector.detectors.traffic import TrafficDetector
    >>> isinstance(TrafficDetector(DetectorSettings()), WindowDetector)
    True
    """

    kinds: tuple[Kind, ...]

    def new_state(self) -> Any: ...

    def check(self, state: Any, win: SeriesWindow) -> Signal | None: ...

    def learn(self, state: Any, win: SeriesWindow, flagged: bool) -> None: ...


@runtime_checkable
class AssessingDetector(WindowDetector, Protocol):
    """A window detector whose ``learn`` redoes part of ``check`` on the same window.

    The pipeline then calls ``assess`` (``check``'s signal, and a memo of the work)
    and hands the memo to ``learn_assessed``, which does what ``learn`` does without
    redoing it. Both are pure functions of the same inputs as ``check`` and ``learn``:
    ``assess(st, w)[0] == check(st, w)`` and ``learn_assessed(st, w, f, memo)`` leaves
    ``st`` as ``learn(st, w, f)`` would, as long as nothing changes ``st`` in between
    (tests/detectors/test_assessing.py).

    >>> from detector.config import DetectorSettings
    >>> from detector.detectors.canary import CanaryDetector
    >>> isinstance(CanaryDetector(DetectorSettings()), AssessingDetector)
    True
    """

    def assess(self, state: Any, win: SeriesWindow) -> tuple[Signal | None, Any]: ...

    def learn_assessed(self, state: Any, win: SeriesWindow, flagged: bool, memo: Any) -> None: ...


X = TypeVar("X", contravariant=True)


@runtime_checkable
class MemoryDetector(Protocol[X]):
    """A detector with one memory of its own, fed one window's input ``X`` at a time.

    >>> from detector.config import DetectorSettings
    >>> from detector.detectors.auth_failure_burst import ClientAuthDetector
    >>> det = ClientAuthDetector(DetectorSettings())
    >>> isinstance(det, MemoryDetector)
    True
    >>> x = ClientWindow(0.0, 60.0, {("shop", "10.0.0.9"): [120, 118, 0, {"/login": 118}]})
    >>> det.check(x) == det.check(x), det.learn(x)
    (True, None)
    """

    kinds: tuple[Kind, ...]

    def check(self, x: X) -> list[Signal]: ...

    def learn(self, x: X) -> None: ...


def score_from_p(p: float) -> float:
    """Map a p-value to a 0..1 score that still separates tiny p-values."""
    import math

    if p <= 0:
        return 1.0
    return round(min(1.0, -math.log10(max(p, 1e-300)) / 30.0), 4)
