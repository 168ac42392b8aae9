"""Every detector by name: the one table the pipeline builds from and the contract test walks.

A detector module's class that follows the protocol (:mod:`detector.detectors.base`)
but has no entry here fails tests/detectors/test_contract.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, TypeVar

from detector.config import DetectorSettings
from detector.detectors.auth_failure_burst import ClientAuthDetector, auth_route_detector
from detector.detectors.authorization_drift import AuthorizationDriftDetector
from detector.detectors.base import Detector, WindowDetector
from detector.detectors.canary import CanaryDetector
from detector.detectors.client_error_surge import client_error_surge_detector
from detector.detectors.data_exposure import DataExposureDetector
from detector.detectors.error_surge import error_surge_detector
from detector.detectors.latency_regression import LatencyRegressionDetector
from detector.detectors.new_endpoint import NewEndpointDetector
from detector.detectors.object_enumeration import ObjectEnumerationDetector
from detector.detectors.payload import PayloadDetector
from detector.detectors.scanning import ScanDetector
from detector.detectors.traffic import TrafficDetector

DETECTORS: dict[str, Callable[[DetectorSettings], Detector]] = {
    # Route series (WindowDetector), in the order of each series' states: traffic first.
    "traffic": TrafficDetector,
    "error_surge": error_surge_detector,
    "client_error_surge": client_error_surge_detector,
    "latency_regression": LatencyRegressionDetector,
    "auth_failure_burst": auth_route_detector,
    "canary": CanaryDetector,
    "data_exposure": DataExposureDetector,
    # One memory each (MemoryDetector).
    "auth_failure_burst_client": ClientAuthDetector,
    "scanning": ScanDetector,
    "payload": PayloadDetector,
    "new_endpoint": NewEndpointDetector,
    # Route series added since: after the others, so older snapshots keep their order.
    "authorization_drift": AuthorizationDriftDetector,
    "object_enumeration": ObjectEnumerationDetector,
}
SERIES: tuple[str, ...] = (
    "traffic",
    "error_surge",
    "client_error_surge",
    "latency_regression",
    "auth_failure_burst",
    "canary",
    "data_exposure",
    "authorization_drift",
)


class Detectors(NamedTuple):
    """One pipeline's detectors, built from :data:`DETECTORS`.

    >>> d = build(DetectorSettings())
    >>> [type(s).__name__ for s in d.series][:2], d.series[0] is d.traffic
    (['TrafficDetector', 'RatioSurgeDetector'], True)
    """

    traffic: TrafficDetector
    series: list[WindowDetector]  # in SERIES order: the layout of each series' states
    client_auth: ClientAuthDetector
    scanner: ScanDetector
    payload: PayloadDetector
    new_endpoint: NewEndpointDetector
    object_enum: ObjectEnumerationDetector


T = TypeVar("T")


def _made(made: dict[str, Detector], name: str, cls: type[T]) -> T:
    det = made[name]
    if not isinstance(det, cls):
        raise TypeError(f"DETECTORS[{name!r}] built a {type(det).__name__}, not a {cls.__name__}")
    return det


def build(settings: DetectorSettings) -> Detectors:
    """A fresh instance of every registered detector (their state starts empty)."""
    made = {name: make(settings) for name, make in DETECTORS.items()}
    return Detectors(
        traffic=_made(made, "traffic", TrafficDetector),
        series=[_made(made, name, WindowDetector) for name in SERIES],  # type: ignore[type-abstract]
        client_auth=_made(made, "auth_failure_burst_client", ClientAuthDetector),
        scanner=_made(made, "scanning", ScanDetector),
        payload=_made(made, "payload", PayloadDetector),
        new_endpoint=_made(made, "new_endpoint", NewEndpointDetector),
        object_enum=_made(made, "object_enumeration", ObjectEnumerationDetector),
    )
