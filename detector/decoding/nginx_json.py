"""nginx ``log_format ... escape=json``: every value is a string, "-" or "" when unset."""

from __future__ import annotations

from typing import Any

from detector.decoding._common import (
    ABSENT,
    client_of,
    new_event,
    opt_text,
    split_request,
    split_target,
    sum_seconds,
    to_count,
    to_method,
    to_seconds,
    to_status,
)
from detector.decoding._json import JsonDecoder
from detector.decoding.headers import HeaderKeys, nginx_header_name
from detector.decoding.nginx_batch import decode_chunk
from detector.events import AccessEvent

# Where this format carries a request body, most usual key first.
_BODY_KEYS = ("request_body", "body", "http.request.body.content")
# Keys the fast path does not read: a record with any of them takes the careful checks.
_UNUSUAL = ("version", "service.name", "service.version", "request_id", "body",
            "http.request.body.content")

class NginxJsonDecoder(JsonDecoder):
    """nginx JSON access logs; ``request`` or ``request_method`` + ``request_uri``.

    Request headers: ``http_<name>`` variables (see :mod:`detector.decoding.headers`).

    >>> d = NginxJsonDecoder("shop")
    >>> e = d.decode(b'{"time_iso8601": "2026-03-17T09:06:00+00:00", "request": "GET /a?b=1 '
    ...              b'HTTP/1.1", "status": "200", "upstream_response_time": "0.1, 0.2"}', "f", 1)
    >>> e.path, e.query, e.status, round(e.duration, 3)
    ('/a', 'b=1', 200, 0.3)
    """

    name = "nginx_json"
    time_keys = ("time_iso8601", "time", "msec", "time_local", "timestamp", "ts", "@timestamp")
    core_keys = (
        "time_iso8601",
        "request",
        "status",
        "request_time",
        "remote_addr",
        "http_user_agent",
        "body_bytes_sent",
    )
    __slots__ = ("_headers",)

    def __init__(self, default_service: str = "default") -> None:
        super().__init__(default_service)
        self._headers = HeaderKeys(nginx_header_name, unusual=_UNUSUAL)

    def _fast(
        self, values: tuple[Any, ...], obj: dict[str, Any], source: str, offset: int
    ) -> AccessEvent | None:
        ts, request, status, duration, peer, ua, size = values
        if not (
            type(request) is str
            and type(status) is str
            and len(status) == 3
            and status.isdigit()
            and status.isascii()
            and type(duration) is str
            and duration not in ABSENT
            and type(peer) is str
            and peer not in ABSENT
            and ":" not in peer
            and type(ua) is str
            and type(size) is str
            and size.isdigit()
            and size.isascii()
            and len(size) < 20
        ):
            return None
        parts = request.split(" ")
        if len(parts) != 3 or parts[1][:1] != "/":
            return None
        method = self._methods.get(parts[0])
        status_code = int(status)
        if method is None or not 100 <= status_code <= 599:
            return None
        path, _, query = parts[1].partition("?")
        get = obj.get
        xff = get("http_x_forwarded_for")
        client = peer if xff is None or xff in ABSENT else client_of(xff, peer)
        service = get("service")
        body = get("request_body")
        if (service is not None and (type(service) is not str or not service)) or (
            body is not None and type(body) is not str
        ):
            return None
        hk = self._headers
        if hk.usual.issuperset(obj):  # every key known, none of _UNUSUAL (the usual record)
            headers = None
            names = hk.names
            if names:  # HeaderKeys.sent, inline: a referer column, "-" in most records
                for key in names:
                    v = get(key)
                    if v is not None and v != "-" and v != "":
                        headers = hk.pick(obj)
                        break
        else:
            if (
                get("version") is not None
                or "service.name" in obj
                or "service.version" in obj
                or "request_id" in obj
                or (body is None and ("body" in obj or "http.request.body.content" in obj))
            ):
                return None
            headers = hk.headers(obj)
        if body is not None and body in ABSENT:
            body = None  # else kept whole: no longer than its record (see BODY_CAP)
        return new_event(
            AccessEvent,
            (self._parse_ts(ts), service or self.default_service, None, method, path, query,
             status_code, to_seconds(duration), int(size), client, ua if ua != "-" else "",
             body, None, source, offset, headers),
        )  # fmt: skip

    def _generic(self, obj: dict[str, Any], source: str, offset: int) -> AccessEvent:
        get = obj.get
        ts = self.event_time(get)

        request = get("request")
        if type(request) is str and request not in ABSENT:
            method, path, query = split_request(request)
        else:
            method = to_method(get("request_method"), "request_method")
            uri = get("request_uri")
            if uri is None:
                # $uri + $args when $request_uri was not logged.
                path, _ = split_target(get("uri"), "request_uri")
                query = opt_text(get("args")) or ""
            else:
                path, query = split_target(uri, "request_uri")

        status = get("status")
        if type(status) is str and len(status) == 3 and status.isdigit() and status.isascii():
            status = int(status)
            if not 100 <= status <= 599:
                status = to_status(status)
        else:
            status = to_status(status)

        duration = get("request_time")
        if duration is None or duration in ABSENT:
            duration = sum_seconds(get("upstream_response_time"))
        else:
            duration = to_seconds(duration)

        size = get("body_bytes_sent")
        size = to_count(size if size is not None else get("bytes_sent"))

        client = client_of(get("http_x_forwarded_for"), get("remote_addr"))

        ua = get("http_user_agent")
        if type(ua) is not str or ua == "-":
            ua = opt_text(ua) or ""

        service, version = self.service_version(get)
        body, request_id = self.body_and_id(get, _BODY_KEYS)
        headers = self._headers.headers(obj)

        return new_event(
            AccessEvent,
            (ts, service, version, method, path, query, status, duration, size,
             client, ua, body, request_id, source, offset, headers),
        )  # fmt: skip

    def decode_batch(self, raws: list[bytes], source: str, first: int
                     ) -> list[AccessEvent] | None:
        """The events of ``raws`` (lines ``first``, ``first + 1``... of ``source``) decoded
        column-wise (:mod:`detector.decoding.nginx_batch`) when every one is a record of its
        shape, else None: the caller decodes them line by line."""
        if self._time_key != "time_iso8601":  # records read so far taught another time key
            return None
        return decode_chunk(raws, source, first, self.default_service, self._methods,
                            self._parse_ts)
