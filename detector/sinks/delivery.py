"""What every delivering sink shares: the retriable delivery error and the
identity of one incident state change."""

from __future__ import annotations

from datetime import UTC, datetime

from detector.incidents.model import Incident


class SinkDeliveryError(Exception):
    """Incidents could not be delivered yet (broker down, endpoint failing,
    database locked). Retriable: nothing was lost, the undelivered incidents
    stay queued and the next ``flush()`` tries again."""

    retriable = True

    def __init__(self, message: str, *, pending: int = 0) -> None:
        super().__init__(message)
        self.pending = pending


def change_key(incident: Incident) -> str:
    """Identity of one state change of an incident: the idempotency key of
    every sink (store rows, webhook ``Idempotency-Key``, CloudEvents ``ce_incidentchange``).

    ``id`` alone is not enough: an incident has several changes, and ``update``
    repeats. Within one incident ``end`` only moves forward, so (status, end)
    tells the updates apart; ``severity`` tells apart an escalation reported in
    the same window. ``detected_at`` is fixed at open and adds nothing.

    >>> from detector.incidents.model import Incident
    >>> inc = Incident(id="inc-1", status="update", kind="error_surge", severity="high",
    ...                service="pay", route="/r", method="GET", client=None,
    ...                start="2026-03-17T09:07:00Z", end="2026-03-17T09:12:00Z",
    ...                detected_at="2026-03-17T09:09:00Z", score=0.9, summary="s",
    ...                evidence={}, deployment=None)
    >>> change_key(inc)
    'inc-1/update/2026-03-17T09:12:00Z/high'
    """
    return f"{incident.id}/{incident.status}/{incident.end}/{incident.severity}"


def to_epoch(text: str) -> float:
    """Seconds since the epoch of an ISO 8601 time (``Z`` or offset; naive = UTC).

    >>> to_epoch("1970-01-01T00:01:00Z")
    60.0
    """
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()
