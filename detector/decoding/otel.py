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
from detector.decoding.headers import HeaderKeys, Headers, otel_header_name, with_object
from detector.decoding.otel_batch import decode_chunk
from detector.decoding.otel_nested_batch import decode_chunk as nested_chunk
from detector.events import AccessEvent

_INF = float("inf")
# Optional keys the generic path reads in every record: when this source never sent any,
# a record whose keys are all known (HeaderKeys.known) lacks them too: no lookups.
_OPTIONAL = frozenset(("http.request.body.content", "request_body", "body", "request_id"))


class OtelDecoder(JsonDecoder):
    """Flat OTel keys on the fast path; nested objects and ECS are flattened first.

    Request headers: ``http.request.header.<name>`` keys, or an object ``header`` under
    ``http.request`` (see :mod:`detector.decoding.headers`).

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
    __slots__ = ("_headers", "_lean", "_lean_at")

    def __init__(self, default_service: str = "default") -> None:
        super().__init__(default_service)
        self._headers = HeaderKeys(otel_header_name)
        self._lean = False  # no key of _OPTIONAL in _headers.known, as of ...
        self._lean_at = -1  # ... this size of it (known only grows)

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
        headers = None
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
                # Request headers are the other keys this path takes; any more: generic.
                hk = self._headers
                headers = hk.headers(obj)
                if found + hk.count != extra:
                    return None
        return new_event(
            AccessEvent,
            (self._parse_ts(ts), service, version, method, path, query, status,
             duration, size, client, ua, body, None, source, offset, headers),
        )  # fmt: skip

    def decode_batch(self, raws: list[bytes], source: str, first: int
                     ) -> list[AccessEvent] | None:
        """The events of ``raws`` (lines ``first``, ``first + 1``... of ``source``) decoded
        column-wise when every one is a flat record :meth:`_fast` takes
        (:mod:`detector.decoding.otel_batch`) or every one a nested record of the usual
        layout (:mod:`detector.decoding.otel_nested_batch`), else None: the caller decodes
        them line by line."""
        got = None
        if self._core is not None:  # else this source has another layout than the flat one
            got = decode_chunk(raws, source, first, self._methods, self._parse_ts)
        if got is None and self._time_key == "timestamp":  # as the per-line reading has it
            got = nested_chunk(raws, source, first, self.default_service, self._methods,
                               self._parse_ts)
        return got

    def _generic(self, obj: dict[str, Any], source: str, offset: int, nested: bool = False,
                 headers: Headers | None = None) -> AccessEvent:
        """The event of a flat record, or of the flat view of a nested one (``nested``,
        with the ``headers`` found before flattening)."""
        get = obj.get
        method = get("http.request.method")
        if method is None:
            flat = flatten(obj)
            if flat.get("http.request.method") is not None:
                # Nested {"http": {"request": ...}} or ECS objects: one flat view, same
                # lookups. Headers: flat keys at the top, and an object "header" under
                # http.request.
                hk = self._headers
                headers = None if not hk.names and hk.known.issuperset(obj) else hk.headers(obj)
                inner = flat.get("http.request.header")
                if inner is not None:
                    headers = with_object(headers, inner)
                return self._generic(flat, source, offset, True, headers)
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

        hk = self._headers
        lean = False
        if nested:
            pass
        elif hk.known.issuperset(obj):  # every key known (the usual record)
            headers = hk.sent(obj) if hk.names else None
            known = hk.known
            if len(known) != self._lean_at:
                self._lean = known.isdisjoint(_OPTIONAL)
                self._lean_at = len(known)
            lean = self._lean
        else:
            headers = hk.headers(obj)
        if lean:  # none of _OPTIONAL is in this record
            body = request_id = None
        else:
            body = get("http.request.body.content")
            if body is None:
                body = get("request_body")
                if body is None:
                    body = get("body")
            body = to_body(body)
            request_id = opt_text(get("request_id"))

        return new_event(
            AccessEvent,
            (ts, service, version, method, path, query, status, duration, size,
             client, ua, body, request_id, source, offset, headers),
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
