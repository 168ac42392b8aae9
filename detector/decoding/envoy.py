"""Envoy / Istio JSON access logs: durations in ms, numbers sometimes as strings, "-" = unset."""

from __future__ import annotations

from typing import Any

from detector.decoding._common import (
    ABSENT,
    client_of,
    new_event,
    opt_text,
    split_target,
    to_count,
    to_method,
    to_seconds,
    to_status,
)
from detector.decoding._json import JsonDecoder
from detector.events import AccessEvent

# Where this format carries a request body, most usual key first.
_BODY_KEYS = ("body", "request_body", "http.request.body.content")

class EnvoyDecoder(JsonDecoder):
    """Envoy JSON access logs; ``response_code`` 0 means no response was sent.

    >>> d = EnvoyDecoder("shop")
    >>> e = d.decode(b'{"start_time": "2026-03-17T09:06:00.000Z", "method": "POST",'
    ...              b' "path": "/p?x=1", "response_code": "0", "duration": "12",'
    ...              b' "downstream_remote_address": "10.1.2.3:5555", "x_forwarded_for": "-"}',
    ...              "f", 1)
    >>> e.status, e.duration, e.client, e.query
    (None, 0.012, '10.1.2.3', 'x=1')
    """

    name = "envoy"
    time_keys = ("start_time", "timestamp", "time", "ts", "@timestamp")
    __slots__ = ()

    def _generic(self, obj: dict[str, Any], source: str, offset: int) -> AccessEvent:
        get = obj.get
        ts = self.event_time(get)
        method = to_method(get("method"), "method")
        path, query = split_target(get("path"), "path")

        status = get("response_code")
        if type(status) is not int or not 100 <= status <= 599:
            status = to_status(status)

        duration = get("duration")
        if duration is None or duration in ABSENT:
            duration = get("upstream_service_time")
        duration = to_seconds(duration, 1e-3)

        size = get("bytes_sent")
        if type(size) is not int:
            size = to_count(size)

        client = client_of(get("x_forwarded_for"), get("downstream_remote_address"))

        ua = get("user_agent")
        if type(ua) is not str or ua == "-":
            ua = opt_text(ua) or ""

        service, version = self.service_version(get)
        body, request_id = self.body_and_id(get, _BODY_KEYS)

        return new_event(
            AccessEvent,
            (ts, service, version, method, path, query, status, duration, size,
             client, ua, body, request_id, source, offset),
        )  # fmt: skip
