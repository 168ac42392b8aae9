"""``alertmanager:URL``: incident changes as Alertmanager alerts (``/api/v2/alerts``).

Secrets: the argument may be ``env:VARNAME`` or ``file:/path`` instead of the
URL itself. Delivery (queue, sender thread, retries, give-ups) is
:class:`~detector.sinks.http_base.HttpSink`; the guards on every request (no
redirects, no private or metadata targets unless
``DETECTOR_SINKS__ALLOW_PRIVATE=1``, capped answers, one deadline per request)
are :mod:`detector.sinks.guarded`.
"""

from __future__ import annotations

import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from detector.incidents.model import Incident
from detector.sinks.http_base import HttpRequest, HttpSink, resolve_secret

ALERTMANAGER_PATH = "/api/v2/alerts"
SEVERITIES = ("low", "medium", "high", "critical")


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

    >>> sink = AlertmanagerSink("http://127.0.0.1:9093", allow_private=True)
    >>> sink.url
    'http://127.0.0.1:9093/api/v2/alerts'
    >>> sink.close()
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
        return [HttpRequest(self.url, orjson.dumps(self.alerts(incident)), {})]
