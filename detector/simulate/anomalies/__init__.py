"""Anomaly injectors, one module per kind, registered by kind name.

To add a kind: write an ``Injector`` subclass in its own module and list it
here; the planner and the labels pick it up from ``REGISTRY``.
"""

from __future__ import annotations

from detector.kinds import Kind
from detector.simulate.anomalies.attack_payload import AttackPayload
from detector.simulate.anomalies.auth_failure_burst import AuthFailureBurst
from detector.simulate.anomalies.base import Anomaly, Injector, PlanContext
from detector.simulate.anomalies.client_error_surge import ClientErrorSurge
from detector.simulate.anomalies.error_surge import ErrorSurge
from detector.simulate.anomalies.latency_regression import LatencyRegression
from detector.simulate.anomalies.new_endpoint import NewEndpoint
from detector.simulate.anomalies.scanning import Scanning
from detector.simulate.anomalies.traffic_drop import TrafficDrop
from detector.simulate.anomalies.traffic_spike import TrafficSpike
from detector.simulate.anomalies.unusual_payload import UnusualPayload

REGISTRY: dict[Kind, Injector] = {
    inj.kind: inj
    for inj in (TrafficSpike(), TrafficDrop(), ErrorSurge(), ClientErrorSurge(),
                LatencyRegression(), AuthFailureBurst(),
                # phase 1: security and content kinds, placed around the traffic kinds
                AttackPayload(), UnusualPayload(), Scanning(), NewEndpoint())
}

__all__ = ["REGISTRY", "Anomaly", "Injector", "PlanContext"]
