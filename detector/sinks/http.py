"""HTTP sinks: ``webhook:URL``, ``slack:URL``, ``alertmanager:URL``,
``pagerduty:ROUTING_KEY``.

``write()`` never blocks: it queues the change for a background thread that
POSTs in order, retrying with exponential backoff on timeouts, connection
errors, 408, 425, 429 and 5xx (for ever: nothing is dropped while the target
is down). Any other 4xx means the target rejects the payload itself: the
change is given up with one log line. ``flush()`` waits, up to a bound, until
the queue is empty, then raises a retriable :class:`SinkDeliveryError` with
the changes still queued.

Secrets: the argument may be ``env:VARNAME`` or ``file:/path`` instead of the
URL (or routing key) itself, for example ``slack:env:SLACK_WEBHOOK_URL``.
URLs are never logged beyond their host: webhook URLs carry tokens.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from detector import __version__
from detector.incidents.model import Incident
from detector.sinks.base import SinkError, register
from detector.sinks.delivery import SinkDeliveryError, change_key

log = logging.getLogger("detector.sinks")

PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
PAGERDUTY_URL_ENV = "DETECTOR_PAGERDUTY__URL"
ALERTMANAGER_PATH = "/api/v2/alerts"
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504}) | frozenset(range(505, 600))
SEVERITIES = ("low", "medium", "high", "critical")


def resolve_secret(arg: str, scheme: str) -> str:
    """The value itself, or read from ``env:VARNAME`` / ``file:/path``.

    >>> import os; os.environ["DOCTEST_HOOK"] = "https://hooks.example/x"
    >>> resolve_secret("env:DOCTEST_HOOK", "webhook")
    'https://hooks.example/x'
    """
    source, _, rest = arg.partition(":")
    if source == "env" and rest:
        value = os.environ.get(rest, "").strip()
        if not value:
            raise SinkError(f"{scheme} sink: environment variable {rest} is not set")
        return value
    if source == "file" and rest and not rest.startswith("//"):
        try:
            value = Path(rest).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SinkError(f"{scheme} sink: cannot read {rest}: {exc.strerror}") from None
        if not value:
            raise SinkError(f"{scheme} sink: {rest} is empty")
        return value
    if not arg:
        raise SinkError(f"{scheme} sink needs a value: {scheme}:VALUE, {scheme}:env:VAR "
                        f"or {scheme}:file:PATH")
    return arg


def _check_url(url: str, scheme: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SinkError(f"{scheme} sink needs an http(s) URL, not {redact(url)!r}")
    return url


def redact(url: str) -> str:
    """Scheme and host only: the path and query of a webhook URL are its secret.

    >>> redact("https://hooks.slack.com/services/T0/B0/XYZ")
    'https://hooks.slack.com/...'
    """
    parts = urllib.parse.urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return "<url>"
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/..."


@dataclass(frozen=True)
class Retry:
    """Backoff and time bounds of an HTTP sink (seconds)."""

    base_s: float = 0.5
    max_s: float = 30.0
    request_timeout_s: float = 10.0
    flush_timeout_s: float = 30.0

    def delay(self, attempt: int) -> float:
        """Exponential with jitter: about base * 2**attempt, capped at max."""
        cap = min(self.max_s, self.base_s * 2 ** min(attempt, 30))
        return float(cap * random.uniform(0.5, 1.0))


@dataclass(frozen=True)
class HttpRequest:
    url: str
    body: bytes
    headers: dict[str, str]


class _Retriable(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _Rejected(Exception):
    pass


class HttpSink:
    """Base of the HTTP sinks: a bounded queue and one sender thread.

    Subclasses only turn an incident into requests (:meth:`requests`).
    ``max_pending`` bounds the queue softly: past it, changes superseded by a
    later change of the same incident are dropped (the latest state of every
    incident is always kept, so memory is bounded by the open incidents).
    """

    scheme = "http"

    def __init__(self, *, retry: Retry | None = None, max_pending: int = 10_000,
                 opener: urllib.request.OpenerDirector | None = None) -> None:
        self.retry = retry or Retry()
        self.max_pending = max_pending
        self.delivered = 0
        self.rejected = 0  # given up on a 4xx
        self.superseded = 0  # dropped from an overfull queue, a later change was kept
        self.last_error = ""
        self._opener = opener or urllib.request.build_opener()
        self._queue: deque[Incident] = deque()
        self._busy = False  # the head is being sent
        self._compact_at = max_pending
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sink-{self.scheme}",
                                        daemon=True)
        self._thread.start()

    def requests(self, incident: Incident) -> list[HttpRequest]:
        raise NotImplementedError

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    def write(self, incident: Incident) -> None:
        with self._cond:
            self._queue.append(incident)
            if len(self._queue) > self._compact_at:
                self._compact()
            self._cond.notify_all()

    def _compact(self) -> None:
        # Keep the head (maybe in flight) and the last change of every incident.
        head = self._queue.popleft()
        seen: set[str] = set()
        kept: list[Incident] = []
        for inc in reversed(self._queue):
            if inc.id in seen:
                self.superseded += 1
                continue
            seen.add(inc.id)
            kept.append(inc)
        kept.reverse()
        self._queue = deque([head, *kept])
        self._compact_at = max(self.max_pending, 2 * len(self._queue))
        log.warning("%s sink: %d changes queued (target down?); superseded changes dropped, "
                    "latest state of each incident kept", self.scheme, len(self._queue))

    def flush(self) -> None:
        """Wait until every queued change is delivered or given up, up to
        ``retry.flush_timeout_s``; else raise a retriable SinkDeliveryError."""
        deadline = time.monotonic() + self.retry.flush_timeout_s
        with self._cond:
            while self._queue:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    n = len(self._queue)
                    raise SinkDeliveryError(
                        f"{self.scheme} sink: {n} incident changes not delivered yet "
                        f"({self.last_error or 'sender stopped'})", pending=n)
                self._cond.wait(left)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._stop.set()
            with self._cond:
                self._cond.notify_all()
            self._thread.join(self.retry.request_timeout_s + 1.0)

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            with self._cond:
                while not self._queue and not self._stop.is_set():
                    self._cond.wait()
                if self._stop.is_set():
                    return
                incident = self._queue[0]
            try:
                for req in self.requests(incident):
                    self._post(req)
            except _Retriable as exc:
                self.last_error = str(exc)
                wait = self.retry.delay(attempt)
                if exc.retry_after is not None:
                    wait = min(self.retry.max_s, max(wait, exc.retry_after))
                attempt += 1
                self._stop.wait(wait)
                continue
            except _Rejected as exc:
                self.rejected += 1
                log.warning("%s sink: gave up on %s: %s", self.scheme, change_key(incident), exc)
            except Exception as exc:  # a bug building the payload: do not spin on it
                self.rejected += 1
                log.error("%s sink: gave up on %s: %s: %s", self.scheme, change_key(incident),
                          type(exc).__name__, exc)
            else:
                self.delivered += 1
            attempt = 0
            with self._cond:
                if self._queue and self._queue[0] is incident:
                    self._queue.popleft()
                self._cond.notify_all()

    def _post(self, req: HttpRequest) -> None:
        where = redact(req.url)
        headers = {"Content-Type": "application/json",
                   "User-Agent": f"detector/{__version__}", **req.headers}
        request = urllib.request.Request(req.url, data=req.body, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self.retry.request_timeout_s) as resp:
                resp.read()
        except urllib.error.HTTPError as exc:
            with exc:
                detail = exc.read(200).decode("utf-8", "replace").strip().replace("\n", " ")
            if exc.code in RETRY_STATUS:
                raise _Retriable(f"HTTP {exc.code} from {where}",
                                 _retry_after(exc.headers.get("Retry-After"))) from None
            raise _Rejected(f"HTTP {exc.code} from {where}: {detail[:200]}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise _Retriable(f"{where}: {reason}") from None


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _json(obj: Any) -> bytes:
    return orjson.dumps(obj)


class WebhookSink(HttpSink):
    """POSTs the incident JSON as is, with ``Idempotency-Key`` = the change key.

    >>> from detector.incidents.model import Incident
    >>> inc = Incident(id="inc-1", status="open", kind="error_surge", severity="high",
    ...                service="pay", route="/r", method="GET", client=None,
    ...                start="2026-03-17T09:07:00Z", end="2026-03-17T09:08:00Z",
    ...                detected_at="2026-03-17T09:08:30Z", score=0.9, summary="s",
    ...                evidence={}, deployment=None)
    >>> sink = WebhookSink("http://127.0.0.1:9/hook")
    >>> sink.requests(inc)[0].headers
    {'Idempotency-Key': 'inc-1/open/2026-03-17T09:08:00Z/high'}
    >>> sink.close()
    """

    scheme = "webhook"

    def __init__(self, url: str, **kw: Any) -> None:
        self.url = _check_url(resolve_secret(url, self.scheme), self.scheme)
        super().__init__(**kw)

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
        self.url = _check_url(resolve_secret(url, self.scheme), self.scheme)
        super().__init__(**kw)

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
        base = _check_url(resolve_secret(url, self.scheme), self.scheme)
        parts = urllib.parse.urlsplit(base)
        path = parts.path.rstrip("/")
        if not path.endswith(ALERTMANAGER_PATH):
            path += ALERTMANAGER_PATH
        self.url = urllib.parse.urlunsplit(parts._replace(path=path))
        self.firing_ttl_s = firing_ttl_s
        super().__init__(**kw)

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
        self.url = _check_url(url or os.environ.get(PAGERDUTY_URL_ENV) or PAGERDUTY_URL,
                              self.scheme)
        super().__init__(**kw)

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
