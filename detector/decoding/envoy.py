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
from detector.decoding.envoy_batch import decode_chunk
from detector.decoding.headers import HeaderKeys, envoy_header_name
from detector.events import AccessEvent

# Where this format carries a request body, most usual key first.
_BODY_KEYS = ("body", "request_body", "http.request.body.content")
# Optional keys read by every record: when this source never sent any, a record whose keys
# are all known (HeaderKeys.known) lacks them too: no lookups.
_OPTIONAL = frozenset(("service", "service.name", "version", "service.version", *_BODY_KEYS))

class EnvoyDecoder(JsonDecoder):
    """Envoy JSON access logs; ``response_code`` 0 means no response was sent.

    Request headers: an object ``request_headers``, keys ``req_<name>``,
    ``request_header_<name>``, and header names as keys (``x-api-version``); see
    :mod:`detector.decoding.headers` for the whole rule.

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
    __slots__ = ("_headers", "_lean", "_lean_at")

    def __init__(self, default_service: str = "default") -> None:
        super().__init__(default_service)
        self._headers = HeaderKeys(envoy_header_name)
        self._lean = False  # no key of _OPTIONAL in _headers.known, as of ...
        self._lean_at = -1  # ... this size of it (known only grows)

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
        if type(size) is not int or size < 0:
            size = to_count(size)  # a negative count is no count, as in every other format

        client = client_of(get("x_forwarded_for"), get("downstream_remote_address"))

        ua = get("user_agent")
        if type(ua) is not str or ua == "-":
            ua = opt_text(ua) or ""

        hk = self._headers
        known = hk.known
        if known.issuperset(obj):  # every key known (the usual record)
            headers = hk.sent(obj) if hk.names else None
            if len(known) != self._lean_at:
                self._lean = known.isdisjoint(_OPTIONAL)
                self._lean_at = len(known)
            lean = self._lean
        else:
            headers = hk.headers(obj)
            lean = False
        if lean:  # none of _OPTIONAL is in this record
            service, version, body = self.default_service, None, None
            request_id = get("request_id")
            if request_id is not None:
                request_id = opt_text(request_id)
        else:
            service, version = self.service_version(get)
            body, request_id = self.body_and_id(get, _BODY_KEYS)

        return new_event(
            AccessEvent,
            (ts, service, version, method, path, query, status, duration, size,
             client, ua, body, request_id, source, offset, headers),
        )  # fmt: skip

    def decode_batch(self, raws: list[bytes], source: str, first: int
                     ) -> list[AccessEvent] | None:
        """The events of ``raws`` (lines ``first``, ``first + 1``... of ``source``) decoded
        column-wise (:mod:`detector.decoding.envoy_batch`) when every one is a record of its
        shape, else None: the caller decodes them line by line."""
        if self._time_key != "start_time":  # records read so far taught another time key
            return None
        return decode_chunk(raws, source, first, self.default_service, self._methods,
                            self._parse_ts)
