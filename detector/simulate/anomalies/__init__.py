"""Anomaly injectors, one module per kind, registered by kind name.

To add a kind: write an ``Injector`` subclass in its own module and list it
here; the planner and the labels pick it up from ``REGISTRY``. Real-world
variants of a kind (a ramp instead of a step...) are injectors of that kind
listed in ``SHAPES`` by shape name; a label's ``params.shape`` names its injector.
"""

from __future__ import annotations

from detector.kinds import Kind
from detector.simulate.anomalies.anon_allowed import AnonAllowed
from detector.simulate.anomalies.app_drop import AppDrop
from detector.simulate.anomalies.attack_payload import AttackPayload
from detector.simulate.anomalies.auth_failure_burst import AuthFailureBurst
from detector.simulate.anomalies.auth_loosened import AuthLoosened
from detector.simulate.anomalies.base import Anomaly, Injector, PlanContext
from detector.simulate.anomalies.canary import CanaryClean, CanaryErrors, CanaryLatency, CanarySize
from detector.simulate.anomalies.client_error_surge import ClientErrorSurge
from detector.simulate.anomalies.creeping_latency import CreepingLatency
from detector.simulate.anomalies.distributed_scan import DistributedScan
from detector.simulate.anomalies.distributed_walk import DistributedWalk
from detector.simulate.anomalies.error_surge import ErrorSurge
from detector.simulate.anomalies.id_walk import IdWalk
from detector.simulate.anomalies.internal_endpoint import InternalEndpoint
from detector.simulate.anomalies.latency_regression import LatencyRegression
from detector.simulate.anomalies.low_traffic_surge import LowTrafficSurge
from detector.simulate.anomalies.new_endpoint import NewEndpoint
from detector.simulate.anomalies.old_clients_broken import OldClientsBroken
from detector.simulate.anomalies.ramped_spike import RampedSpike
from detector.simulate.anomalies.scanning import Scanning
from detector.simulate.anomalies.size_jump import SizeJump
from detector.simulate.anomalies.size_tail import SizeTail
from detector.simulate.anomalies.slow_stuffing import SlowStuffing
from detector.simulate.anomalies.traffic_drop import TrafficDrop
from detector.simulate.anomalies.traffic_spike import TrafficSpike
from detector.simulate.anomalies.unusual_payload import UnusualPayload
from detector.simulate.anomalies.weekend_drop import WeekendDrop

REGISTRY: dict[Kind, Injector] = {
    inj.kind: inj
    for inj in (TrafficSpike(), TrafficDrop(), ErrorSurge(), ClientErrorSurge(),
                LatencyRegression(), AuthFailureBurst(),
                # phase 1: security and content kinds, placed around the traffic kinds
                AttackPayload(), UnusualPayload(), Scanning(), NewEndpoint())
}

# Planned only in real-world runs (planner.plan_shapes), in this order.
SHAPES: dict[str, Injector] = {
    inj.shape: inj
    for inj in (CreepingLatency(), LowTrafficSurge(), WeekendDrop(), RampedSpike(),
                InternalEndpoint())
}

# What a release can change (issue 12: authorization, response sizes, canaries, ...) and
# the campaigns and client populations around it: planned only in real-world runs
# (planner.plan_releases), after the shapes, by name in this order. A label of one of
# them carries its name in ``params.shape``.
RELEASES: dict[str, Injector] = {
    inj.shape: inj
    for inj in (
        CanaryErrors(),
        CanaryLatency(),
        CanarySize(),
        CanaryClean(),
        SizeJump(),
        SizeTail(),
        AuthLoosened(),  # authorization_drift: 403s of other accounts' objects answered
        AnonAllowed(),  # authorization_drift: 401s of anonymous requests answered
        IdWalk(),
        DistributedWalk(),
        SlowStuffing(),
        DistributedScan(),
        OldClientsBroken(),
        AppDrop(),
    )
}


def injector_for(a: Anomaly) -> Injector:
    """The injector that planned ``a``: its shape's, else its kind's.

    >>> injector_for(Anomaly("traffic_spike", "s", 0, "/x", "GET", 0.0, 1.0)).shape
    'step'
    """
    shape = a.extra.get("shape")
    if isinstance(shape, str):
        if shape in SHAPES:
            return SHAPES[shape]
        if shape in RELEASES:
            return RELEASES[shape]
    return REGISTRY[a.kind]


__all__ = ["REGISTRY", "RELEASES", "SHAPES", "Anomaly", "Injector", "PlanContext", "injector_for"]
