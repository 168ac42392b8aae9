"""OpenTelemetry HTTP semantic conventions (flat dotted keys, nested objects) and ECS."""

from __future__ import annotations

from typing import Any

from detector.decoding._common import (
    ABSENT,
    client_of,
    fail,
    flatten,
    new_event,
    opt_text,
    split_target,
    strip_port,
    to_body,
    to_count,
    to_seconds,
    to_status,
)
from detector.decoding._json import Getter, JsonDecoder
from detector.events import AccessEvent

_INF = float("inf")


class OtelDecoder(JsonDecoder):
    """Flat OTel keys on the fast path; nested objects and ECS are flattened first.

    >>> d = OtelDecoder("shop")
    >>> e = d.decode(b'{"timestamp": "2026-03-17T09:06:00Z", "http.request.method": "get",'
    ...              b' "url.path": "/items/1", "http.response.status_code": 200}', "f", 1)
    >>> e.method, e.path, e.status, e.service
    ('GET', '/items/1', 200, 'shop')
    """

    name = "otel"
    time_keys = ("timestamp", "@timestamp", "time", "ts", "time_unix_nano", "timeUnixNano")
    # The layout of a typical exporter's record; url.query is absent when empty.
    core_keys = (
        "timestamp",
        "http.request.method",
        "url.path",
        "http.response.status_code",
        "http.server.request.duration",
        "client.address",
        "user_agent.original",
        "service.name",
        "service.version",
        "http.response.body.size",
    )
    __slots__ = ()

    def _fast(
        self, values: tuple[Any, ...], obj: dict[str, Any], source: str, offset: int
    ) -> AccessEvent | None:
        ts, method, path, status, duration, client, ua, service, version, size = values
        if not (
            type(path) is str
            and path
            and "?" not in path
            and type(status) is int
            and 100 <= status <= 599
            and type(duration) is float
            and 0.0 <= duration < _INF
            and type(client) is str
            and client
            and type(ua) is str
            and type(service) is str
            and service
            and type(version) is str
            and version not in ABSENT
            and type(size) is int
            and size >= 0
        ):
            return None
        try:
            method = self._methods[method]
        except (KeyError, TypeError):
            return None
        if ":" in client:
            client = strip_port(client)  # "1.2.3.4:5678"; bare IPv6 stays whole
        # The key count proves which optional keys (query, body) exist:
        # any other extra key sends the record to the generic path.
        extra = len(obj) - 10
        query = ""
        body = None
        if extra:
            found = 0
            raw_query = obj.get("url.query")
            if raw_query is not None:
                if type(raw_query) is not str:
                    return None
                query = raw_query
                found += 1
            raw_body = obj.get("http.request.body.content")
            if raw_body is not None:
                body = to_body(raw_body)
                found += 1
            # Behind a proxy: client.address already is the original client, so
            # the peer and the forwarded-for header add nothing to the event.
            if "network.peer.address" in obj:
                found += 1
            if "http.request.header.x-forwarded-for" in obj:
                found += 1
            if found != extra:
                return None
        return new_event(
            AccessEvent,
            (self._parse_ts(ts), service, version, method, path, query, status,
             duration, size, client, ua, body, None, source, offset),
        )  # fmt: skip

    def _generic(self, obj: dict[str, Any], source: str, offset: int) -> AccessEvent:
        get = obj.get
        method = get("http.request.method")
        if method is None:
            flat = flatten(obj)
            if flat.get("http.request.method") is not None:
                # Nested {"http": {"request": ...}} or ECS objects: one flat view, same lookups.
                return self._generic(flat, source, offset)
            fail("missing http.request.method")
        method = self.method(method, "http.request.method")
        ts = self.event_time(get)

        path = get("url.path")
        if type(path) is str and path and "?" not in path:
            query = get("url.query")
            if type(query) is not str:
                query = opt_text(query) or ""
        else:
            path, query = self._target(get, path)

        status = to_status(get("http.response.status_code"))

        duration = get("http.server.request.duration")
        if duration is None:
            duration = to_seconds(get("event.duration"), 1e-9)  # ECS: nanoseconds
        else:
            duration = to_seconds(duration)

        size = get("http.response.body.size")
        size = to_count(size if size is not None else get("http.response.body.bytes"))

        client = get("client.address")
        client = client_of(
            get("http.request.header.x-forwarded-for") if not client else None,
            client or get("source.ip") or get("source.address") or get("network.peer.address"),
        )

        ua = get("user_agent.original")
        if type(ua) is not str:
            ua = opt_text(ua) or ""

        service = opt_text(get("service.name")) or opt_text(get("service")) or self.default_service
        version = get("service.version")
        version = opt_text(version if version is not None else get("version"))

        body = get("http.request.body.content")
        if body is None:
            body = get("request_body")
            if body is None:
                body = get("body")
        body = to_body(body)

        return new_event(
            AccessEvent,
            (ts, service, version, method, path, query, status, duration, size,
             client, ua, body, opt_text(get("request_id")), source, offset),
        )  # fmt: skip

    @staticmethod
    def _target(get: Getter, path: object) -> tuple[str, str]:
        """Path and query when url.path is absent or has a query (url.full, ECS url.original)."""
        if type(path) is str and path:
            p, q = split_target(path)
            query = get("url.query")
            return p, query if type(query) is str else q
        for key in ("url.original", "url.full", "url.target"):
            v = get(key)
            if v is not None:
                return split_target(v, key)
        fail("missing url.path")
