"""Incident changes for the sink tests."""

from __future__ import annotations

from typing import Any

from detector.incidents.model import Incident


def incident(
    id: str = "inc-000000000001",
    status: str = "open",
    *,
    end: str = "2026-03-17T09:08:00Z",
    severity: str = "high",
    service: str = "payments",
    kind: str = "error_surge",
    detected_at: str = "2026-03-17T09:08:30Z",
    **kw: Any,
) -> Incident:
    fields: dict[str, Any] = {
        "route": "/v2/payments/{id}/refunds", "method": "POST", "client": None,
        "start": "2026-03-17T09:07:00Z", "score": 0.98,
        "summary": "POST /v2/payments/{id}/refunds 5xx rate 11.8% (baseline 0.4%)",
        "evidence": {"observed": 0.118, "baseline": 0.004, "requests": 412},
        "deployment": None,
    }
    fields.update(kw)
    return Incident(id=id, status=status, end=end, severity=severity, service=service,
                    kind=kind, detected_at=detected_at, **fields)


def lifecycle(id: str = "inc-000000000001", **kw: Any) -> list[Incident]:
    """open, two updates (the second escalates), resolved."""
    return [
        incident(id, "open", end="2026-03-17T09:08:00Z", **kw),
        incident(id, "update", end="2026-03-17T09:13:00Z", **kw),
        incident(id, "update", end="2026-03-17T09:13:00Z", **{**kw, "severity": "critical"}),
        incident(id, "resolved", end="2026-03-17T09:18:00Z", **{**kw, "severity": "critical"}),
    ]
