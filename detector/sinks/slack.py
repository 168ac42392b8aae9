"""``slack:URL``: a one-line summary per incident change to a Slack incoming webhook.

Secrets: the argument may be ``env:VARNAME`` or ``file:/path`` instead of the
URL itself, for example ``slack:env:SLACK_WEBHOOK_URL``. Delivery (queue,
sender thread, retries, give-ups) is
:class:`~detector.sinks.http_base.HttpSink`; the guards on every request (no
redirects, no private or metadata targets unless
``DETECTOR_SINKS__ALLOW_PRIVATE=1``, capped answers, one deadline per request)
are :mod:`detector.sinks.guarded`.
"""

from __future__ import annotations

from typing import Any

import orjson

from detector.incidents.model import Incident
from detector.sinks.http_base import HttpRequest, HttpSink, resolve_secret

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
    """Posts a one-line summary to a Slack incoming webhook (``{"text": ...}``).

    >>> sink = SlackSink("http://127.0.0.1:9/services/T0/B0/x", allow_private=True)
    >>> sink.label
    'slack:http://127.0.0.1:9/...'
    >>> sink.close()
    """

    scheme = "slack"

    def __init__(self, url: str, **kw: Any) -> None:
        super().__init__(resolve_secret(url, self.scheme), **kw)

    def requests(self, incident: Incident) -> list[HttpRequest]:
        return [HttpRequest(self.url, orjson.dumps({"text": slack_text(incident)}), {})]
