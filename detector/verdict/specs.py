"""Each check's defaults: what it measures, which way is worse, and how strict it is.

``tolerance`` is the band of harmless change (an absolute share for share checks,
per 1,000 requests for findings, a relative change for ratio checks), ``ratio``
the factor a share must also grow by, ``min_effect`` the change the gate must be
able to see at the traffic it has (else it says inconclusive), ``min_delta`` an
absolute floor for ratio checks (seconds of latency, bytes of response).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from detector.verdict.policy import CheckPolicy, Policy

Basis = Literal["share", "windows", "routes", "params", "incidents"]


class CheckSpec(NamedTuple):
    name: str
    basis: Basis
    up: bool  # the bad direction: up (more errors) or down (fewer denials)
    critical: bool
    tolerance: float
    ratio: float
    min_effect: float
    min_delta: float = 0.0
    unit: str = ""
    kinds: tuple[str, ...] = ()  # incident kinds that back the check
    needs_analysis: bool = False


SPECS: dict[str, CheckSpec] = {s.name: s for s in (
    CheckSpec("error_share", "share", True, True, 0.005, 1.5, 0.01, unit="share",
              kinds=("error_surge",)),
    CheckSpec("client_error_share", "share", True, True, 0.01, 1.5, 0.02, unit="share",
              kinds=("client_error_surge",)),
    # Denials and 404s cluster by client (one app with a stale token retrying, one crawler):
    # a wide band, for what a release does to them is seldom subtle.
    CheckSpec("auth_denial_share", "share", True, False, 0.05, 2.0, 0.05, unit="share",
              kinds=("auth_failure_burst",)),
    CheckSpec("not_found_share", "share", True, False, 0.05, 2.0, 0.05, unit="share"),
    CheckSpec("latency_p50", "windows", True, True, 0.25, 1.0, 0.25, min_delta=0.005,
              unit="seconds", kinds=("latency_regression",)),
    CheckSpec("latency_p95", "windows", True, True, 0.25, 1.0, 0.25, min_delta=0.01,
              unit="seconds", kinds=("latency_regression",)),
    # A drop of traffic after a deploy is clients failing to get through; a rise is
    # seldom the release's doing (campaigns, growth): it is at most marginal.
    CheckSpec("request_rate", "windows", False, True, 1.0, 1.0, 0.5,
              unit="requests per window", kinds=("traffic_drop", "traffic_spike")),
    CheckSpec("response_size", "windows", False, False, 0.5, 1.0, 0.5, min_delta=64,
              unit="bytes (2xx median)"),
    CheckSpec("data_exposure", "windows", True, True, 0.5, 1.0, 0.5, min_delta=64,
              unit="bytes (2xx median)", kinds=("data_exposure",)),
    # min_effect: a campaign worth stopping a release for, 1 % of the requests; smaller
    # ones still fail when they are clear (tolerance, ratio), they just do not make the
    # gate wait for traffic.
    CheckSpec("attack_findings", "share", True, True, 1.0, 2.0, 10.0,
              unit="per 1000 requests", kinds=("attack_payload",), needs_analysis=True),
    CheckSpec("unusual_payload_findings", "share", True, False, 2.0, 2.0, 20.0,
              unit="per 1000 requests", kinds=("unusual_payload",), needs_analysis=True),
    CheckSpec("new_endpoints", "routes", True, True, 0.0, 1.0, 1.0, unit="requests",
              kinds=("new_endpoint",)),
    CheckSpec("new_parameters", "params", True, False, 0.0, 1.0, 1.0, unit="requests",
              needs_analysis=True),
    CheckSpec("scanning", "incidents", True, False, 0.0, 2.0, 1.0, unit="incidents",
              kinds=("scanning",)),
    # Denials collapsing after a deploy: permissions loosened.
    CheckSpec("authorization_drift", "share", False, True, 0.02, 2.0, 0.05, unit="share",
              kinds=("authorization_drift",)),
    CheckSpec("object_enumeration", "incidents", True, False, 0.0, 2.0, 1.0,
              unit="incidents", kinds=("object_enumeration",)),
)}


def effective(spec: CheckSpec, policy: Policy) -> CheckSpec:
    """``spec`` with the policy's overrides (and its critical list) applied."""
    over: CheckPolicy = policy.check(spec.name)
    critical = spec.critical
    if policy.critical is not None:
        critical = spec.name in policy.critical
    if over.critical is not None:
        critical = over.critical
    return spec._replace(
        critical=critical,
        tolerance=spec.tolerance if over.tolerance is None else over.tolerance,
        ratio=spec.ratio if over.ratio is None else over.ratio,
        min_effect=spec.min_effect if over.min_effect is None else over.min_effect,
        min_delta=spec.min_delta if over.min_delta is None else over.min_delta,
    )
