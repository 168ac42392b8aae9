"""HTTP sinks: ``webhook:URL``, ``slack:URL``, ``alertmanager:URL``,
``pagerduty:ROUTING_KEY``.

Delivery (queue, sender thread, retries, give-ups) is :class:`HttpSink` in
:mod:`detector.sinks.http_base`; the guards on every request (no redirects, no
private or metadata targets unless ``DETECTOR_SINKS__ALLOW_PRIVATE=1``, capped
answers, one deadline per request) are :mod:`detector.sinks.guarded`.

Secrets: the argument may be ``env:VARNAME`` or ``file:/path`` instead of the
URL (or routing key) itself, for example ``slack:env:SLACK_WEBHOOK_URL``.
URLs are never logged beyond their host: webhook URLs carry tokens.
"""

from __future__ import annotations

import os
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from detector.incidents.model import Incident
from detector.sinks.base import register
from detector.sinks.delivery import change_key
from detector.sinks.http_base import (
    RETRY_STATUS,
    HttpRequest,
    HttpSink,
    Retry,
    redact,
    resolve_secret,
)

__all__ = ["RETRY_STATUS", "AlertmanagerSink", "HttpRequest", "HttpSink", "PagerDutySink",
           "Retry", "SlackSink", "WebhookSink", "redact", "resolve_secret", "slack_text"]

PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
PAGERDUTY_URL_ENV = "DETECTOR_PAGERDUTY__URL"
ALERTMANAGER_PATH = "/api/v2/alerts"
SEVERITIES = ("low", "medium", "high", "critical")


def _json(obj: Any) -> bytes:
    return orjson.dumps(obj)


class WebhookSink(HttpSink):
    """POSTs the incident JSON as is, with ``Idempotency-Key`` = the change key.

    A loopback or private URL is refused unless private targets are allowed:
    >>> WebhookSink("http://10.0.0.7/hook", allow_private=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    detector.sinks.base.SinkError: webhook sink: refusing http://10.0.0.7/...: 10.0.0.7 is a ...

    >>> from detector.incidents.model import Incident
    >>> inc = Incident(id="inc-1", status="open", kind="error_surge", severity="high",
    ...                service="pay", route="/r", method="GET", client=None,
    ...                start="2026-03-17T09:07:00Z", end="2026-03-17T09:08:00Z",
    ...                detected_at="2026-03-17T09:08:30Z", score=0.9, summary="s",
    ...                evidence={}, deployment=None)
    >>> sink = WebhookSink("http://127.0.0.1:9/hook", allow_private=True)
    >>> sink.requests(inc)[0].headers
    {'Idempotency-Key': 'inc-1/open/2026-03-17T09:08:00Z/high'}
    >>> sink.close()
    """

    scheme = "webhook"

    def __init__(self, url: str, **kw: Any) -> None:
        super().__init__(resolve_secret(url, self.scheme), **kw)

    def requests(self, incident: Incident) -> list[HttpRequest]:
        return [HttpRequest(self.url, _json(incident.model_dump(mode="json")),
                            {"Idempotency-Key": change_key(incident)})]


_SLACK_ICON = {"open": ":rotating_light:", "update": ":warning:", "resolved": ":white_check_mark:"}


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_text(incident: Incident) -> str:
    """The one-message summary posted to Slack (mrkdwn, escaped).

    >>> from detector.incidents.model import Incident
    >>> inc = Incident(id="inc-1", status="resolved", kind="error_surge", severity="high",
    ...                service="pay", route="/r/{id}", method="GET", client=None,
    ...                start="2026-03-17T09:07:00Z", end="2026-03-17T09:12:00Z",
    ...                detected_at="2026-03-17T09:09:00Z", score=0.9, summary="5xx <11%>",
    ...                evidence={}, deployment=None)
    >>> slack_text(inc)
    ':white_check_mark: *resolved* high error_surge on *pay* GET /r/{id}: 5xx &lt;11%&gt; (`inc-1`)'
    """
    where = " ".join(p for p in (incident.method, incident.route) if p)
    if incident.client:
        where = f"{where} client {incident.client}".strip()
    where = f" {_slack_escape(where)}" if where else ""
    return (f"{_SLACK_ICON.get(incident.status, '')} *{incident.status}* {incident.severity} "
            f"{incident.kind} on *{_slack_escape(incident.service)}*{where}: "
            f"{_slack_escape(incident.summary)} (`{incident.id}`)")


class SlackSink(HttpSink):
    """Posts a one-line summary to a Slack incoming webhook (``{"text": ...}``)."""

    scheme = "slack"

    def __init__(self, url: str, **kw: Any) -> None:
        super().__init__(resolve_secret(url, self.scheme), **kw)

    def requests(self, incident: Incident) -> list[HttpRequest]:
        return [HttpRequest(self.url, _json({"text": slack_text(incident)}), {})]


class AlertmanagerSink(HttpSink):
    """Posts alerts to Alertmanager's ``/api/v2/alerts``.

    Labels must stay the same for the whole incident, or Alertmanager sees a new
    alert (a new fingerprint): ``alertname`` (= kind), ``service``,
    ``incident_id``, ``severity``, ``client`` for client-keyed incidents and
    ``route`` for route-keyed ones (a client-keyed incident learns its route
    later, so there it is an annotation only). When severity escalates, the
    alerts under the lower severities are resolved in the same post. A firing
    alert carries ``endsAt`` = now + ``firing_ttl_s`` (refreshed by every
    update), so a lost resolve cannot fire for ever; resolved sets ``endsAt``
    to the incident's end.
    """

    scheme = "alertmanager"

    def __init__(self, url: str, *, firing_ttl_s: float = 3600.0, **kw: Any) -> None:
        parts = urllib.parse.urlsplit(resolve_secret(url, self.scheme))
        path = parts.path.rstrip("/")
        if not path.endswith(ALERTMANAGER_PATH):
            path += ALERTMANAGER_PATH
        self.firing_ttl_s = firing_ttl_s
        super().__init__(urllib.parse.urlunsplit(parts._replace(path=path)), **kw)

    def alerts(self, incident: Incident, now: datetime | None = None) -> list[dict[str, Any]]:
        now = now or datetime.now(UTC)
        labels = {"alertname": incident.kind, "service": incident.service,
                  "incident_id": incident.id, "severity": incident.severity}
        if incident.client:
            labels["client"] = incident.client
        elif incident.route:
            labels["route"] = incident.route
        annotations = {"summary": incident.summary, "status": incident.status,
                       "score": f"{incident.score:.3g}", "detected_at": incident.detected_at}
        for name in ("route", "method"):
            value = getattr(incident, name)
            if value:
                annotations[name] = value
        if incident.deployment is not None:
            annotations["deployment"] = incident.deployment.version
            annotations["deploy_suspect"] = str(incident.deployment.suspect).lower()
        if incident.status == "resolved":
            ends = incident.end
        else:
            ttl = timedelta(seconds=self.firing_ttl_s)
            ends = (now + ttl).strftime("%Y-%m-%dT%H:%M:%SZ")
        current = {"labels": labels, "annotations": annotations, "startsAt": incident.start,
                   "endsAt": ends}
        out: list[dict[str, Any]] = [current]
        if incident.status != "open":
            stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
            for lower in SEVERITIES[:SEVERITIES.index(incident.severity)]:
                out.append({"labels": {**labels, "severity": lower}, "annotations": annotations,
                            "startsAt": incident.start, "endsAt": stamp})
        return out

    def requests(self, incident: Incident) -> list[HttpRequest]:
        return [HttpRequest(self.url, _json(self.alerts(incident)), {})]


_PD_SEVERITY = {"critical": "critical", "high": "error", "medium": "warning", "low": "info"}


class PagerDutySink(HttpSink):
    """Sends PagerDuty Events API v2 events: ``dedup_key`` = incident id, so
    updates land on the same PagerDuty incident; resolved sends ``resolve``.
    The endpoint can be overridden with ``DETECTOR_PAGERDUTY__URL``."""

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
        return [HttpRequest(self.url, _json(self.event(incident)), {})]


register("webhook")(lambda arg: WebhookSink(arg))
register("slack")(lambda arg: SlackSink(arg))
register("alertmanager")(lambda arg: AlertmanagerSink(arg))
register("pagerduty")(lambda arg: PagerDutySink(arg))
