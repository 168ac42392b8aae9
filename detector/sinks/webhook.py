"""``webhook:URL``: POSTs the incident JSON (CONTRACTS §3) as is.

Secrets: the argument may be ``env:VARNAME`` or ``file:/path`` instead of the
URL itself, for example ``webhook:env:HOOK_URL``. Delivery (queue, sender
thread, retries, give-ups) is :class:`~detector.sinks.http_base.HttpSink`; the
guards on every request (no redirects, no private or metadata targets unless
``DETECTOR_SINKS__ALLOW_PRIVATE=1``, capped answers, one deadline per request)
are :mod:`detector.sinks.guarded`.
URLs are never logged beyond their host: webhook URLs carry tokens.
"""

from __future__ import annotations

from typing import Any

import orjson

from detector.incidents.model import Incident
from detector.sinks.delivery import change_key
from detector.sinks.http_base import HttpRequest, HttpSink, resolve_secret


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
        return [HttpRequest(self.url, orjson.dumps(incident.model_dump(mode="json")),
                            {"Idempotency-Key": change_key(incident)})]
