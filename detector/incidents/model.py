"""The incident record (CONTRACTS §3): one JSON object per state change."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer

from detector.kinds import Kind

Status = Literal["open", "update", "resolved"]
Severity = Literal["low", "medium", "high", "critical"]


class DeploymentRef(BaseModel):
    model_config = ConfigDict(frozen=True)
    version: str
    previous_version: str | None
    deployed_at: str
    seconds_since_deploy: int
    suspect: bool


class Incident(BaseModel):
    """One incident state change, exactly as sinks write it.

    >>> inc = Incident(id="inc-0123456789ab", status="open", kind="error_surge",
    ...                severity="high", service="pay", route="/r", method="POST",
    ...                client=None, start="2026-03-17T09:07:00Z", end="2026-03-17T09:08:00Z",
    ...                detected_at="2026-03-17T09:08:30Z", score=0.9, summary="s",
    ...                evidence={}, deployment=None)
    >>> inc.model_dump(mode="json")["status"]
    'open'
    """

    model_config = ConfigDict(frozen=True)
    id: str
    status: Status
    kind: Kind
    severity: Severity
    service: str
    route: str | None
    method: str | None
    client: str | None
    start: str
    end: str
    detected_at: str
    score: float
    summary: str
    evidence: dict[str, Any]
    deployment: DeploymentRef | None
    # Optional (CONTRACTS §3): written only when set, so incidents without them keep
    # the exact shape they always had.
    version: str | None = None
    suppressed: bool | None = None

    @model_serializer(mode="wrap")
    def _drop_unset_optionals(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        for name in ("version", "suppressed"):
            if out.get(name) is None:
                out.pop(name, None)
        return out
