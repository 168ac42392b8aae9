"""``pagerduty:ROUTING_KEY``: incident changes as PagerDuty Events API v2 events.

Secrets: the argument may be ``env:VARNAME`` or ``file:/path`` instead of the
routing key itself. Delivery (queue, sender thread, retries, give-ups) is
:class:`~detector.sinks.http_base.HttpSink`; the guards on every request (no
redirects, no private or metadata targets unless
``DETECTOR_SINKS__ALLOW_PRIVATE=1``, capped answers, one deadline per request)
are :mod:`detector.sinks.guarded`.
"""

from __future__ import annotations

import os
from typing import Any

import orjson

from detector.incidents.model import Incident
from detector.sinks.http_base import HttpRequest, HttpSink, resolve_secret

PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
PAGERDUTY_URL_ENV = "DETECTOR_PAGERDUTY__URL"

_PD_SEVERITY = {"critical": "critical", "high": "error", "medium": "warning", "low": "info"}


class PagerDutySink(HttpSink):
    """Sends PagerDuty Events API v2 events: ``dedup_key`` = incident id, so
    updates land on the same PagerDuty incident; resolved sends ``resolve``.
    The endpoint can be overridden with ``DETECTOR_PAGERDUTY__URL``.

    >>> from detector.incidents.model import Incident
    >>> inc = Incident(id="inc-1", status="resolved", kind="error_surge", severity="high",
    ...                service="pay", route="/r", method="GET", client=None,
    ...                start="2026-03-17T09:07:00Z", end="2026-03-17T09:08:00Z",
    ...                detected_at="2026-03-17T09:08:30Z", score=0.9, summary="s",
    ...                evidence={}, deployment=None)
    >>> sink = PagerDutySink("R0UT1NGKEY", url="http://127.0.0.1:9/enqueue", allow_private=True)
    >>> sink.event(inc)
    {'routing_key': 'R0UT1NGKEY', 'event_action': 'resolve', 'dedup_key': 'inc-1'}
    >>> sink.close()
    """

    scheme = "pagerduty"

    def __init__(self, routing_key: str, *, url: str | None = None, **kw: Any) -> None:
        self.routing_key = resolve_secret(routing_key, self.scheme)
        super().__init__(url or os.environ.get(PAGERDUTY_URL_ENV) or PAGERDUTY_URL, **kw)

    def event(self, incident: Incident) -> dict[str, Any]:
        if incident.status == "resolved":
            return {"routing_key": self.routing_key, "event_action": "resolve",
                    "dedup_key": incident.id}
        details = incident.model_dump(mode="json", exclude={"summary"})
        return {
            "routing_key": self.routing_key,
            "event_action": "trigger",
            "dedup_key": incident.id,
            "client": "detector",
            "payload": {
                "summary": incident.summary[:1024] or incident.kind,
                "source": incident.service,
                "severity": _PD_SEVERITY.get(incident.severity, "error"),
                "timestamp": incident.detected_at,
                "component": incident.route or incident.client or incident.service,
                "group": incident.service,
                "class": incident.kind,
                "custom_details": details,
            },
        }

    def requests(self, incident: Incident) -> list[HttpRequest]:
        return [HttpRequest(self.url, orjson.dumps(self.event(incident)), {})]
